"""The messages circle events send, queued in the same transaction as the event."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from circles import times
from circles.models import Agreement, Meeting, Membership
from circles.selectors import public_name, waitlist_position
from notifications.kinds import EMAIL, SMS, MessageKind
from notifications.services import notify

BOTH = (EMAIL, SMS)

KINDS = [
    MessageKind(
        name="reminder_24h",
        preference="reminders",
        at_most_once=True,
        description="A meeting reminder about 24 hours before",
    ),
    MessageKind(
        name="reminder_2h",
        preference="reminders",
        channels=(SMS,),
        description="A meeting reminder about 2 hours before",
    ),
    MessageKind(
        name="join_request",
        preference="updates",
        description="To facilitators: a man asked to join",
    ),
    MessageKind(
        name="join_request_waiting",
        preference="updates",
        description="To facilitators, daily: the requests waiting 3 days or more for an answer",
    ),
    MessageKind(
        name="join_request_overdue",
        preference="updates",
        description="To superusers, daily: the requests any circle left unanswered 7 days",
    ),
    MessageKind(
        name="join_request_received",
        preference="updates",
        description="His request to join is sent: what happens next",
    ),
    MessageKind(name="membership_waitlisted", preference="updates", description="On the waitlist"),
    MessageKind(name="membership_approved", preference="updates", description="Welcome in"),
    MessageKind(name="membership_declined", preference="updates", description="Not this time"),
    MessageKind(
        name="membership_expired",
        preference="updates",
        description="His request went unanswered and no longer holds a seat",
    ),
    MessageKind(
        name="seat_offered",
        preference="updates",
        channels=BOTH,
        description="A seat is his for 72 hours",
    ),
    MessageKind(
        name="meeting_cancelled",
        preference="updates",
        channels=BOTH,
        description="A meeting is cancelled",
    ),
    MessageKind(
        name="meeting_reinstated",
        preference="updates",
        channels=BOTH,
        description="A cancelled meeting is on again",
    ),
    MessageKind(
        name="meeting_added",
        preference="updates",
        channels=BOTH,
        description="A meeting outside the circle's regular days or times",
    ),
    MessageKind(
        name="member_left",
        preference="updates",
        description="To facilitators: a man left the circle, and his word if he wrote one",
    ),
    MessageKind(
        name="agreements_changed",
        preference="updates",
        description="The circle's agreements changed",
    ),
    MessageKind(
        name="broadcast",
        preference="broadcasts",
        channels=BOTH,
        description="A facilitator's message to his circle",
    ),
]


def join_requested(membership: Membership) -> None:
    """Tell the circle's facilitators that a man asked to join."""
    circle = membership.circle
    for facilitator in circle.memberships.facilitating().select_related("user"):
        notify(
            user=facilitator.user,
            kind="join_request",
            subject_key=_request_key(membership),
            context={
                "circle": circle,
                "member_name": public_name(membership.user),
                "membership": membership,
            },
        )


def _request_key(membership: Membership) -> str:
    # A man may ask again after leaving: each request is its own subject.
    return f"membership:{membership.pk}:{membership.requested_at:%Y%m%d%H%M%S}"


def requests_waiting(user: User, requests: list[Membership], *, now: datetime) -> int:
    """To a facilitator: every request his circles have left unanswered, in one email.

    One a day (his day, in his time zone): the day is in the key, so however
    often the scheduler runs, the message log queues it once. Returns how many
    were queued (0 or 1).
    """
    return _requests_digest(user, requests, now=now, kind="join_request_waiting")


def requests_overdue(user: User, requests: list[Membership], *, now: datetime) -> int:
    """To a superuser: every request left unanswered OVERDUE_DAYS, whichever circle; daily."""
    return _requests_digest(user, requests, now=now, kind="join_request_overdue")


def _requests_digest(user: User, requests: list[Membership], *, now: datetime, kind: str) -> int:
    day = timezone.localtime(now, ZoneInfo(user.time_zone)).date()
    items = [
        {
            "membership": m,
            "circle": m.circle,
            "member_name": public_name(m.user),
            "days": (now - m.requested_at).days,
        }
        for m in requests
    ]
    # Each request's answer link is in the body: what a man's erasure finds it by.
    return len(
        notify(
            user=user,
            kind=kind,
            subject_key=f"{kind}:{day:%Y-%m-%d}",
            context={"requests": items, "first": items[0] if items else None},
        )
    )


def request_received(membership: Membership, *, answer_days: int) -> None:
    """Tell him his request is sent, what happens next and by when."""
    _to_member(membership, "join_request_received", answer_days=answer_days)


def _to_member(membership: Membership, kind: str, channels=("email",), **context) -> None:
    notify(
        user=membership.user,
        kind=kind,
        # A man may ask again after leaving: each request is its own subject.
        subject_key=f"membership:{membership.pk}:{membership.requested_at:%Y%m%d%H%M%S}",
        context={"circle": membership.circle, **context},
        channels=channels,
    )


def waitlisted(membership: Membership) -> None:
    _to_member(membership, "membership_waitlisted", position=waitlist_position(membership))


def approved(membership: Membership, *, message: str = "") -> None:
    _to_member(membership, "membership_approved", message=message)


def declined(membership: Membership, *, message: str = "") -> None:
    _to_member(membership, "membership_declined", message=message)


def request_expired(membership: Membership, *, days: int) -> None:
    _to_member(membership, "membership_expired", days=days)


def seat_offered(membership: Membership, *, message: str = "") -> None:
    notify(
        user=membership.user,
        kind="seat_offered",
        subject_key=f"membership:{membership.pk}:{membership.offer_expires_at:%Y%m%d%H%M%S}",
        context={
            "circle": membership.circle,
            "expires": timezone.localtime(
                membership.offer_expires_at, ZoneInfo(membership.user.time_zone)
            ),
            "message": message,
        },
        channels=BOTH,
    )


def _to_members(meeting: Meeting, kind: str, subject_key: str) -> None:
    """Each active member, the meeting's time in his own words (circles.times)."""
    for membership in meeting.circle.memberships.active().select_related("user"):
        reader = times.reader_zone_name(membership.user)
        # Dates in subjects follow the same rule as `when`: the venue's for in person.
        zone = ZoneInfo(membership.user.time_zone) if meeting.circle.is_online else None
        notify(
            user=membership.user,
            kind=kind,
            subject_key=subject_key,
            context={
                "circle": meeting.circle,
                "meeting": meeting,
                "when": times.moment_text(meeting.starts_at, meeting.circle, reader),
                "starts": timezone.localtime(meeting.starts_at, zone or meeting.circle.zone),
                # A date filter would move it to the active zone: the words, made here.
                "day": times.day(
                    timezone.localtime(meeting.starts_at, zone or meeting.circle.zone)
                ),
            },
            channels=BOTH,
        )


def meeting_cancelled(meeting: Meeting) -> None:
    # Each cancellation its own subject: a reinstated meeting may be cancelled again.
    stamp = f"{meeting.cancelled_at:%Y%m%d%H%M%S%f}" if meeting.cancelled_at else "once"
    _to_members(meeting, "meeting_cancelled", f"meeting:{meeting.pk}:{stamp}")


def meeting_reinstated(meeting: Meeting) -> None:
    _to_members(
        meeting, "meeting_reinstated", f"meeting:{meeting.pk}:{timezone.now():%Y%m%d%H%M%S%f}"
    )


def meeting_added(meeting: Meeting) -> None:
    _to_members(meeting, "meeting_added", f"meeting:{meeting.pk}")


def member_left(membership: Membership, *, word: str = "") -> None:
    """Tell the circle's facilitators that a man left, with his word if any."""
    circle = membership.circle
    for facilitator in circle.memberships.facilitating().select_related("user"):
        notify(
            user=facilitator.user,
            kind="member_left",
            subject_key=f"membership:{membership.pk}:left:{membership.left_at:%Y%m%d%H%M%S}",
            context={"circle": circle, "member_name": public_name(membership.user), "word": word},
        )


def agreements_changed(agreement: Agreement) -> None:
    for membership in agreement.circle.memberships.active().select_related("user"):
        notify(
            user=membership.user,
            kind="agreements_changed",
            subject_key=f"agreement:{agreement.pk}",
            context={"circle": agreement.circle, "agreement": agreement},
        )
