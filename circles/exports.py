"""circles' sections of "Download my data" (registered from CirclesConfig.ready()).

His memberships (with what he shares with each circle), the agreement
versions he accepted, his RSVPs and attendance, the meetings he led, his
facilitator roles, his calendar feed (whether it exists, never its token) and
facilitators' private notes about him.

Facilitators' notes are his: they are data about him, and the law that gives
him his data (the GDPR's right of access, Art. 15) counts a person's opinions
about him in it. Facilitators are told so on the note form. A note's author
is named as the site names facilitators to anyone (first name and last
initial); notes he wrote about other men are theirs, so only their number is
here. Each section costs a fixed number of queries.
"""

from __future__ import annotations

from typing import Any

from accounts.exports import iso
from accounts.models import User
from circles.models import (
    RSVP,
    AgreementAcceptance,
    Attendance,
    CalendarFeed,
    Circle,
    FacilitatorNote,
    Meeting,
    Membership,
)
from circles.selectors import public_name

Json = dict[str, Any]
FORMER_FACILITATOR = "a former facilitator"


def memberships(user: User) -> list[Json]:
    rows = Membership.objects.filter(user=user).select_related("circle").order_by("requested_at")
    return [
        {
            "circle": membership.circle.name,
            "role": membership.role,
            "status": membership.status,
            "requested_at": iso(membership.requested_at),
            "decided_at": iso(membership.decided_at),
            "joined_at": iso(membership.joined_at),
            "left_at": iso(membership.left_at),
            "seat_offer_until": iso(membership.offer_expires_at),
            # What he wrote with his request, for the circle's facilitators only.
            "introduction": membership.introduction,
            # What he shows the rest of this circle.
            "shares_email_with_circle": membership.share_email,
            "shares_phone_with_circle": membership.share_phone,
        }
        for membership in rows
    ]


def agreements_accepted(user: User) -> list[Json]:
    rows = (
        AgreementAcceptance.objects.filter(user=user)
        .select_related("agreement__circle")
        .order_by("accepted_at")
    )
    return [
        {
            "circle": acceptance.agreement.circle.name,
            "version": acceptance.agreement.version,
            "accepted_at": iso(acceptance.accepted_at),
            "text": acceptance.agreement.text,
        }
        for acceptance in rows
    ]


def _meeting(meeting: Meeting) -> Json:
    return {"circle": meeting.circle.name, "meeting_starts_at": iso(meeting.starts_at)}


def rsvps(user: User) -> list[Json]:
    rows = RSVP.objects.filter(user=user).select_related("meeting__circle").order_by("responded_at")
    return [
        {
            **_meeting(rsvp.meeting),
            "answer": rsvp.response,
            "channel": rsvp.channel,
            "answered_at": iso(rsvp.responded_at),
        }
        for rsvp in rows
    ]


def attendance(user: User) -> list[Json]:
    rows = (
        Attendance.objects.filter(user=user)
        .since_joined()
        .select_related("meeting__circle")
        .order_by("meeting__starts_at")
    )
    return [{**_meeting(row.meeting), "status": row.status} for row in rows]


def meetings_led(user: User) -> list[Json]:
    rows = Meeting.objects.filter(leader=user).select_related("circle").order_by("starts_at")
    return [{**_meeting(meeting), "status": meeting.status} for meeting in rows]


def facilitation(user: User) -> Json:
    roles = (
        Membership.objects.filter(user=user)
        .exclude(role=Membership.Role.MEMBER)
        .select_related("circle")
        .order_by("circle__name")
    )
    return {
        "roles": [
            {"circle": membership.circle.name, "role": membership.role, "status": membership.status}
            for membership in roles
        ],
        "private_notes_written": FacilitatorNote.objects.filter(author_id=user.pk).count(),
    }


def facilitator_notes(user: User) -> list[Json]:
    """Facilitators' private notes about him, oldest first (three queries)."""
    notes = list(FacilitatorNote.objects.filter(member_id=user.pk).order_by("created_at", "pk"))
    circles = Circle.objects.in_bulk({note.circle_id for note in notes})
    authors = User.objects.in_bulk({note.author_id for note in notes})
    exported = []
    for note in notes:
        circle, author = circles.get(note.circle_id), authors.get(note.author_id)
        exported.append(
            {
                "circle": circle.name if circle else None,
                "written_at": iso(note.created_at),
                "by": public_name(author) if author else FORMER_FACILITATOR,
                "text": note.text,
            }
        )
    return exported


def calendar_feed(user: User) -> Json:
    feed = CalendarFeed.objects.filter(user_id=user.pk).only("created_at").first()
    return {"exists": feed is not None, "created_at": iso(feed.created_at if feed else None)}


SECTIONS = {
    "memberships": memberships,
    "agreements_accepted": agreements_accepted,
    "rsvps": rsvps,
    "attendance": attendance,
    "meetings_led": meetings_led,
    "facilitation": facilitation,
    "facilitator_notes": facilitator_notes,
    "calendar_feed": calendar_feed,
}
