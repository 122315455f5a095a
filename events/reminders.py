"""Event reminders: the day before, by email, and by text to men who chose texts.

An event starting within the next REMINDER_BEFORE (and not yet started) gets
one `event_reminder` per confirmed registration on each channel he accepts
(`may_send`: his reminder preferences, a verified number not opted out).
Queuing writes rows keyed by the registration (the log's unique key, bulk
insert ignoring conflicts) and delivery claims rows with SKIP LOCKED, so any
number of `send_event_reminders` at once send each reminder exactly once.
Run hourly: a man who registers less than a day before gets his on the next run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from events import messages
from events.models import Event, Registration
from notifications import services as notify
from notifications.models import Notification

REMINDER_BEFORE = timedelta(hours=24)
KIND = "event_reminder"
CHANNELS = (Notification.Channel.EMAIL, Notification.Channel.SMS)


def due(now: datetime) -> list[Registration]:
    return list(
        Registration.objects.filter(
            status=Registration.Status.CONFIRMED,
            event__status__in=Event.REGISTERING,
            event__starts_at__gt=now,
            event__starts_at__lte=now + REMINDER_BEFORE,
        )
        .select_related("event", "user")
        .order_by("pk")
    )


def queue_event_reminders(*, now: datetime | None = None) -> int:
    """Write the reminder rows due now; return how many were new."""
    now = now or timezone.now()
    registrations = due(now)
    if not registrations:
        return 0
    opted_out = notify.opted_out_numbers(
        r.user.verified_phone for r in registrations if r.user.verified_phone
    )
    rows = [
        notify.build(
            user=registration.user,
            kind=KIND,
            subject_key=messages.registration_key(registration),
            channel=channel,
            context=messages.context_for(registration),
        )
        for registration in registrations
        for channel in CHANNELS
        if notify.may_send(registration.user, KIND, channel, opted_out=opted_out)
    ]
    before = Notification.objects.filter(kind=KIND).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return Notification.objects.filter(kind=KIND).count() - before
