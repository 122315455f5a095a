"""Meeting reminders: an email about 24 hours before, a text about 2 hours before.

Queuing is idempotent (the notification log's unique key) and delivery claims
rows with SKIP LOCKED, so several `send_reminders` at once send each reminder
exactly once. Reminders are at-most-once (see notifications.delivery).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from circles import times
from circles.models import RSVP, Meeting, Membership
from circles.selectors import public_name
from notifications import services as notify
from notifications.models import Notification

EMAIL_BEFORE = timedelta(hours=24)
SMS_BEFORE = timedelta(hours=2)
KINDS = ("reminder_24h", "reminder_2h")


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _windows(now: datetime) -> list[tuple[str, str, datetime, datetime]]:
    # (kind, channel, starts after, starts until): a meeting less than two hours
    # away gets the text, not a late "tomorrow" email.
    return [
        ("reminder_24h", "email", now + SMS_BEFORE, now + EMAIL_BEFORE),
        ("reminder_2h", "sms", now, now + SMS_BEFORE),
    ]


def queue_reminders(*, now: datetime | None = None) -> int:
    """Write the reminder rows due now; return how many were new."""
    now = now or timezone.now()
    rows: list[Notification] = []
    for kind, channel, after, until in _windows(now):
        meetings = list(
            Meeting.objects.filter(
                status=Meeting.Status.SCHEDULED, starts_at__gt=after, starts_at__lte=until
            ).select_related("circle", "leader")
        )
        if not meetings:
            continue
        by_circle: dict[int, list[Meeting]] = {}
        for meeting in meetings:
            by_circle.setdefault(meeting.circle_id, []).append(meeting)
        members = list(
            Membership.objects.active().filter(circle_id__in=by_circle).select_related("user")
        )
        declined = set(
            RSVP.objects.filter(meeting__in=meetings, response=RSVP.Response.NO).values_list(
                "meeting_id", "user_id"
            )
        )
        # Texts go to verified numbers only (may_send checks each man).
        opted_out = notify.opted_out_numbers(
            m.user.verified_phone for m in members if m.user.verified_phone
        )
        for membership in members:
            user = membership.user
            if not notify.may_send(user, kind, channel, opted_out=opted_out):
                continue
            for meeting in by_circle[membership.circle_id]:
                if (meeting.pk, user.pk) in declined:
                    continue
                rows.append(
                    notify.build(
                        user=user,
                        kind=kind,
                        subject_key=f"meeting:{meeting.pk}",
                        channel=channel,
                        context={
                            "meeting": meeting,
                            "circle": meeting.circle,
                            "leader": public_name(meeting.leader) if meeting.leader else "",
                            "you_lead": meeting.leader_id == user.pk,
                            "when": times.moment_text(
                                meeting.starts_at, meeting.circle, times.reader_zone_name(user)
                            ),
                            # In his own time zone, like the pages.
                            "starts": timezone.localtime(meeting.starts_at, zone(user.time_zone)),
                        },
                    )
                )
    before = Notification.objects.filter(kind__in=KINDS).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return Notification.objects.filter(kind__in=KINDS).count() - before


def pending_reminders() -> int:
    return Notification.objects.filter(
        Q(status=Notification.Status.PENDING) | Q(status=Notification.Status.FAILED_TRANSIENT),
        kind__in=KINDS,
    ).count()
