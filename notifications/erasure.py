"""What the message log forgets when a member deletes his account.

His own messages go with his user row (a cascade). What is left is other
men's messages that name him (a join request to a facilitator, a broadcast he
wrote) and the STOP of his number. notifications sits below accounts, so it
cannot register with accounts.personal_data itself: the apps above call these.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import reduce
from operator import or_

from django.db.models import Q

from notifications.models import Notification, SmsOptOut

# Not yet handed to the vendor: such a message naming a man who is gone is not sent.
NOT_SENT = [
    Notification.Status.PENDING,
    Notification.Status.FAILED_TRANSIENT,
    Notification.Status.SENDING,
]


def bodies_forget(*, naming: Collection[str] = (), subject_prefixes: Collection[str] = ()) -> int:
    """Empty the subject and body of every message that names someone who is gone.

    A message matches when its text holds one of `naming` (exact strings: an
    address, a full name, a number) or its subject key starts with one of
    `subject_prefixes` (e.g. "membership:12:", the join request a facilitator
    got about membership 12). Only the copy kept for the recipient's export is
    lost, and bodies go after NOTIFICATION_BODY_DAYS anyway, so matching a
    little too much costs nothing. One not yet sent is not sent (skipped).
    Returns how many messages were emptied.
    """
    conditions = [
        Q(subject__contains=text) | Q(body__contains=text) | Q(html_body__contains=text)
        for text in naming
        if text
    ] + [Q(subject_key__startswith=prefix) for prefix in subject_prefixes if prefix]
    if not conditions:
        return 0
    matching = Notification.objects.filter(reduce(or_, conditions))
    # A delivery in flight sends the copy it holds; an emptied row is never
    # sent again (notifications.delivery skips a row without a body).
    matching.filter(status__in=NOT_SENT).update(status=Notification.Status.SKIPPED)
    return matching.exclude(subject="", body="", html_body="").update(
        subject="", body="", html_body=""
    )


def sms_opt_out_forget(*, phone: str) -> int:
    """Forget that `phone` replied STOP (its owner proved the number and is leaving).

    Twilio keeps its own opt-out of the number (it refuses to text a number
    that replied STOP until it replies START), so no text reaches it either way.
    """
    if not phone:
        return 0
    deleted, _ = SmsOptOut.objects.filter(phone=phone).delete()
    return deleted
