"""Deliver queued messages once, and forget their bodies when done.

`deliver_due()` is the sweep (run by `send_reminders`) that claims due rows
with SELECT ... FOR UPDATE SKIP LOCKED: any number of processes on any number
of hosts can run it, and each row is sent once. `deliver()` sends one row
(what the background task runs after the queuing transaction commits).

Crash window: a row is marked "sending" (and committed) before the vendor is
called. If the process dies after the vendor took the message but before the
row says "sent", an *at-most-once* row (every SMS, every reminder) stays
"sending" and is never sent again: better a missed text than a man texted
twice. Other email is *at-least-once*: its "sending" lease runs out after
LEASE and the sweep tries again.

Secrets a kind mints (see notifications.kinds) are made here, just before the
vendor is called, and put only into the message handed to the vendor.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from notifications import sms
from notifications.kinds import find as find_kind
from notifications.kinds import placeholder
from notifications.models import Notification, SmsOptOut
from notifications.transport import TransportError

logger = logging.getLogger("notifications.delivery")

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6

Due = Q(status__in=[Notification.Status.PENDING, Notification.Status.FAILED_TRANSIENT]) | Q(
    status=Notification.Status.SENDING, at_most_once=False
)


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 ... minutes, capped at six hours."""
    return timedelta(minutes=min(4 ** max(attempts - 1, 0), 360))


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


def _opted_out(numbers: Iterable[str]) -> set[str]:
    return set(SmsOptOut.objects.filter(phone__in=set(numbers)).values_list("phone", flat=True))


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


class Skip(Exception):
    pass


def with_minted(row: Notification) -> tuple[str, str]:
    """The row's body and HTML body with the kind's secrets minted into them.

    Only the returned strings hold them; the row is left as it was.
    """
    body, html = row.body, row.html_body
    declared = find_kind(row.kind)
    for name, mint in (declared.minted if declared else {}).items():
        marker = placeholder(name)
        if marker not in body and marker not in html:
            continue
        value = mint(row)
        if "://" in value and not value.startswith(settings.SITE_URL + "/"):
            raise TransportError(f"link {name} is not on SITE_URL", permanent=True)
        body = body.replace(marker, value)
        html = html.replace(marker, escape(value))
    return body, html


def _sms_number(row: Notification) -> str:
    declared = find_kind(row.kind)
    return declared.sms_number(row.user) if declared else row.user.verified_phone


def _send(row: Notification, opted_out: set[str]) -> str:
    user = row.user
    if not row.body:  # emptied before it went (it named a man who deleted his account)
        raise Skip
    if row.channel == Notification.Channel.SMS:
        # The number may have changed, lost its proof or said STOP since the
        # row was queued: checked before anything is minted.
        to = _sms_number(row)
        if not to or to in opted_out:
            raise Skip
        body, _html = with_minted(row)
        callback = settings.SITE_URL + reverse("notifications:twilio_status")
        return sms.get_backend().send(to=to, body=body, status_callback=callback)
    body, html = with_minted(row)
    to = row.to_email or user.email
    message = EmailMultiAlternatives(row.subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
    return getattr(message, "provider_id", "")


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
        _settle(row, _opted_out([_sms_number(row)]))
        row.save(update_fields=SETTLED_FIELDS)
    return _tally(rows)


def deliver_due(
    *,
    batch: int = 200,
    threads: int = 16,
    kinds: Iterable[str] | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Deliver every due row, `threads` at a time, claiming `batch` rows per round."""
    total = Outcome()
    queryset = Notification.objects.all()
    if kinds is not None:
        queryset = queryset.filter(kind__in=list(kinds))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while rows := _claim(queryset, batch):
            opted_out = _opted_out(_sms_number(r) for r in rows if r.channel == "sms")
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


# --- Retention ----------------------------------------------------------------------


def bodies_purge(*, older_than: datetime, batch: int = 5000) -> int:
    """Drop subject, bodies and fixed address of messages done with before `older_than`.

    Done with: anything not due any more (sent, delivered, failed for good,
    skipped, or an at-most-once row a crash left "sending"). Kind, channel,
    status and times stay. Returns how many rows were emptied; works in
    batches so no long lock is held on a large log.
    """
    done = (
        Notification.objects.exclude(Due)
        .filter(
            Q(sent_at__lt=older_than) | Q(sent_at__isnull=True, created_at__lt=older_than),
        )
        .exclude(subject="", body="", html_body="", to_email="")
    )
    purged = 0
    while ids := list(done.values_list("pk", flat=True)[:batch]):
        purged += Notification.objects.filter(pk__in=ids).update(
            subject="", body="", html_body="", to_email=""
        )
    return purged


def task_results_purge(*, older_than: datetime) -> int:
    """Drop the records of background tasks that finished before `older_than`.

    A task's arguments rest in its record: a delivery's message id, but also
    the address someone typed on the password-reset page, account or not.
    """
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=older_than).delete()
    return deleted
