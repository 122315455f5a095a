"""Queue and deliver every outbound message through the notification log.

`notify()` writes a row per channel in the caller's transaction and asks a
background task to deliver it once that transaction commits, so a page never
waits on a vendor. `deliver_due()` is the sweep (run by `send_reminders`)
that claims due rows with SELECT ... FOR UPDATE SKIP LOCKED: any number of
processes on any number of hosts can run it, and each row is sent once.

Crash window: a row is marked "sending" (and committed) before the vendor is
called. If the process dies after the vendor took the message but before the
row says "sent", an *at-most-once* row (every SMS, every reminder) stays
"sending" and is never sent again: better a missed text than a man texted
twice. Other email is *at-least-once*: its "sending" lease runs out after
LEASE and the sweep tries again.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from mensc import sms
from mensc.models import Notification, SmsOptOut
from mensc.transport import TransportError

logger = logging.getLogger("mensc.notify")

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
# Which member preference (accounts.models.MESSAGE_KINDS) governs each kind.
# None: account messages, sent whatever the preferences (and before verification).
KINDS: dict[str, str | None] = {
    "verify_email": None,
    "password_reset": None,
    "reminder_24h": "reminders",
    "reminder_2h": "reminders",
    "join_request": "updates",
    "request_received": "updates",
    "membership_approved": "updates",
    "membership_declined": "updates",
    "membership_waitlisted": "updates",
    "seat_offered": "updates",
    "meeting_cancelled": "updates",
    "agreements_changed": "updates",
    "broadcast": "broadcasts",
    # Dues: about his own account, like the account emails.
    "dues_past_due": None,
}
AT_MOST_ONCE_KINDS = {"reminder_24h", "reminder_2h"}

Due = Q(status__in=[Notification.Status.PENDING, Notification.Status.FAILED_TRANSIENT]) | Q(
    status=Notification.Status.SENDING, at_most_once=False
)


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 ... minutes, capped at six hours."""
    return timedelta(minutes=min(4 ** max(attempts - 1, 0), 360))


def opted_out_numbers(numbers: Iterable[str]) -> set[str]:
    return set(SmsOptOut.objects.filter(phone__in=set(numbers)).values_list("phone", flat=True))


def may_send(user: User, kind: str, channel: str, *, opted_out: set[str] | None = None) -> bool:
    """Whether `user` may get a `kind` message on `channel` at all."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if not user.is_active:
        return False
    preference = KINDS[kind]
    if preference is None:
        return channel == Notification.Channel.EMAIL
    if not user.is_verified or not user.wants(preference, channel):
        return False
    if channel == Notification.Channel.SMS:
        if opted_out is None:
            opted_out = opted_out_numbers([user.phone])
        return user.phone not in opted_out
    return True


def render(template: str, channel: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, body, html) from templates/emails/<template>_* or templates/sms/<template>.txt."""
    context = {"site_url": settings.SITE_URL, **context}
    if channel == Notification.Channel.SMS:
        return "", render_to_string(f"sms/{template}.txt", context).strip(), ""
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    body = render_to_string(f"emails/{template}_body.txt", context)
    try:
        html = render_to_string(f"emails/{template}_body.html", context)
    except TemplateDoesNotExist:  # the HTML part is optional
        html = ""
    return subject, body, html


def build(
    *, user: User, kind: str, subject_key: str, channel: str, template: str, context: dict
) -> Notification:
    subject, body, html = render(template, channel, {"user": user, **context})
    return Notification(
        user=user,
        channel=channel,
        kind=kind,
        subject_key=subject_key,
        subject=subject[:200],
        body=body,
        html_body=html,
        at_most_once=channel == Notification.Channel.SMS or kind in AT_MOST_ONCE_KINDS,
    )


def notify(
    *,
    user: User,
    kind: str,
    subject_key: str,
    template: str,
    context: dict[str, Any] | None = None,
    channels: Iterable[str] = ("email",),
) -> list[Notification]:
    """Queue a message to one member on each channel he accepts; deliver after commit.

    The same (user, channel, kind, subject_key) is queued once, ever.
    """
    queued = []
    for channel in channels:
        if not may_send(user, kind, channel):
            continue
        row = build(
            user=user,
            kind=kind,
            subject_key=subject_key,
            channel=channel,
            template=template,
            context=context or {},
        )
        with transaction.atomic():
            row, created = Notification.objects.get_or_create(
                user=user,
                channel=channel,
                kind=kind,
                subject_key=subject_key,
                defaults={
                    f: getattr(row, f) for f in ("subject", "body", "html_body", "at_most_once")
                },
            )
        if created:
            queued.append(row)
    for row in queued:
        transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
    return queued


def _enqueue(pk: int) -> None:
    from mensc.tasks import deliver_notification

    deliver_notification.enqueue(pk)


# --- Delivery -----------------------------------------------------------------------


@dataclass
class Outcome:
    sent: int = 0
    transient: int = 0
    permanent: int = 0
    skipped: int = 0
    ids: list[int] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.sent += other.sent
        self.transient += other.transient
        self.permanent += other.permanent
        self.skipped += other.skipped


def _claim(queryset: Any, limit: int) -> list[Notification]:
    """Mark up to `limit` due rows "sending" (committed) and return them."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .filter(Due, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            status=Notification.Status.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + LEASE,
        )
    return list(Notification.objects.filter(pk__in=ids).select_related("user"))


def _send(row: Notification, opted_out: set[str]) -> str:
    user = row.user
    if row.channel == Notification.Channel.SMS:
        # STOP may have come in after the row was queued.
        if not user.phone or user.phone in opted_out:
            raise Skip
        callback = settings.SITE_URL + reverse("twilio_status")
        return sms.get_backend().send(to=user.phone, body=row.body, status_callback=callback)
    message = EmailMultiAlternatives(
        row.subject, row.body, settings.DEFAULT_FROM_EMAIL, [user.email]
    )
    if row.html_body:
        message.attach_alternative(row.html_body, "text/html")
    message.send()
    return getattr(message, "provider_id", "")


class Skip(Exception):
    pass


def _settle(row: Notification, opted_out: set[str]) -> Notification:
    """Send one claimed row and set its outcome on the instance (not saved).

    Touches no database, so it can run in a thread pool.
    """
    now = timezone.now()
    try:
        row.provider_id = _send(row, opted_out)[:100]
    except Skip:
        row.status = Notification.Status.SKIPPED
    except TransportError as error:
        permanent = error.permanent or row.attempts >= MAX_ATTEMPTS
        row.status = (
            Notification.Status.FAILED_PERMANENT
            if permanent
            else Notification.Status.FAILED_TRANSIENT
        )
        row.error = error.message[:300]
        row.next_attempt_at = now + backoff(row.attempts)
        logger.warning("notification %s failed (%s): %s", row.pk, row.status, error.message)
    except Exception as error:  # a bug or an unexpected vendor answer: retry later
        row.status = Notification.Status.FAILED_TRANSIENT
        row.error = f"{type(error).__name__}"[:300]
        row.next_attempt_at = now + backoff(row.attempts)
        logger.exception("notification %s failed unexpectedly", row.pk)
    else:
        row.status = Notification.Status.SENT
        row.sent_at = now
        row.error = ""
    return row


SETTLED_FIELDS = ["status", "provider_id", "error", "next_attempt_at", "sent_at"]


def _tally(rows: Iterable[Notification]) -> Outcome:
    outcome = Outcome()
    for row in rows:
        outcome.ids.append(row.pk)
        if row.status == Notification.Status.SENT:
            outcome.sent += 1
        elif row.status == Notification.Status.FAILED_TRANSIENT:
            outcome.transient += 1
        elif row.status == Notification.Status.FAILED_PERMANENT:
            outcome.permanent += 1
        else:
            outcome.skipped += 1
    return outcome


def deliver(notification_id: int) -> Outcome:
    """Deliver one row if it is still due (what the background task runs)."""
    rows = _claim(Notification.objects.filter(pk=notification_id), 1)
    for row in rows:
        _settle(row, opted_out_numbers([row.user.phone]))
        row.save(update_fields=SETTLED_FIELDS)
    return _tally(rows)


def deliver_due(
    *, batch: int = 200, threads: int = 16, kinds: Iterable[str] | None = None, progress=None
) -> Outcome:
    """Deliver every due row, `threads` at a time, claiming `batch` rows per round."""
    total = Outcome()
    queryset = Notification.objects.all()
    if kinds is not None:
        queryset = queryset.filter(kind__in=list(kinds))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while rows := _claim(queryset, batch):
            opted_out = opted_out_numbers(r.user.phone for r in rows if r.channel == "sms")
            settled = list(pool.map(_settle, rows, itertools.repeat(opted_out)))
            Notification.objects.bulk_update(settled, SETTLED_FIELDS)
            total.add(_tally(settled))
            if progress:
                progress(total)
    return total


def update_delivery_status(*, provider_id: str, status: str) -> bool:
    """Record a vendor's delivery report; True if the message was known."""
    mapping = {
        "delivered": Notification.Status.DELIVERED,
        "undelivered": Notification.Status.FAILED_PERMANENT,
        "failed": Notification.Status.FAILED_PERMANENT,
    }
    if not provider_id:  # emails and unsent texts have none: never match them
        return False
    new = mapping.get(status)
    rows = Notification.objects.filter(provider_id=provider_id)
    if new is None:
        return rows.exists()
    return bool(rows.update(status=new))
