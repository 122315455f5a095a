"""Taking attendance: who a meeting's attendance is about, the one-page grid, its save.

Attendance is about the men who were members when the meeting started
(`MembershipQuerySet.in_circle_at`): never a man who had only asked to join or
was waiting for a seat, never a man for meetings before he joined. Nothing is
written when a page opens; the facilitator's "Save attendance" writes every
mark at once (`attendance_save`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from circles.models import RSVP, Attendance, Circle, Meeting, Membership
from circles.services import CircleError

NOT_STARTED = "Attendance can be taken once the meeting has started."
CANCELLED = "This meeting was cancelled: there is no attendance to take."
NOT_EXPECTED = "Only men who were members when the meeting started can be marked."

# Meetings linked from the circle's admin page.
RECENT = 5

# What a tap means, in the grid's order. "Absent" is an unexcused absence.
MARKS = [
    (Attendance.Status.PRESENT, "Present"),
    (Attendance.Status.UNEXCUSED, "Absent"),
    (Attendance.Status.EXCUSED, "Excused"),
]


def expected(meeting: Meeting) -> list[Membership]:
    """The memberships whose attendance this meeting takes, by name. One query."""
    return list(
        Membership.objects.filter(circle_id=meeting.circle_id)
        .in_circle_at(meeting.starts_at)
        .select_related("user")
        .order_by("user__full_name", "user__email", "pk")
    )


def suggestion(meeting: Meeting, rsvp: RSVP | None) -> str | None:
    """What the grid preselects from an RSVP: "no" before the start excuses, "yes" is present."""
    if rsvp is None:
        return None
    if rsvp.response == RSVP.Response.NO and rsvp.responded_at < meeting.starts_at:
        return Attendance.Status.EXCUSED
    if rsvp.response == RSVP.Response.YES:
        return Attendance.Status.PRESENT
    return None


@dataclass
class GridRow:
    membership: Membership
    field: forms.BoundField
    rsvp: str | None
    saved: str | None


class AttendanceGridForm(forms.Form):
    """A present / absent / excused choice per expected man, and removal of stray rows."""

    def __init__(self, meeting: Meeting, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        self.memberships = expected(meeting)
        expected_ids = {m.user_id for m in self.memberships}
        rows = list(meeting.attendance.select_related("user").order_by("user__full_name", "pk"))
        self.saved = {row.user_id: row for row in rows if row.user_id in expected_ids}
        # Rows about men who were not members then: shown so they can be removed.
        self.strays = [row for row in rows if row.user_id not in expected_ids]
        rsvps = {r.user_id: r for r in meeting.rsvps.all()}
        self.rsvps = {m.user_id: rsvps.get(m.user_id) for m in self.memberships}
        for membership in self.memberships:
            row = self.saved.get(membership.user_id)
            name = membership.user.get_full_name()
            self.fields[f"m{membership.user_id}"] = forms.ChoiceField(
                label=name,
                choices=MARKS,
                required=False,
                widget=forms.RadioSelect(attrs={"class": "attendance-mark"}),
                initial=row.status if row else suggestion(meeting, self.rsvps[membership.user_id]),
            )
        if self.strays:
            self.fields["remove"] = forms.MultipleChoiceField(
                label="Remove these rows",
                required=False,
                widget=forms.CheckboxSelectMultiple,
                choices=[(row.pk, stray_label(row)) for row in self.strays],
            )

    def grid(self) -> list[GridRow]:
        return [
            GridRow(
                membership=m,
                field=self[f"m{m.user_id}"],
                rsvp=(rsvp.get_response_display() if (rsvp := self.rsvps[m.user_id]) else None),
                saved=row.get_status_display() if (row := self.saved.get(m.user_id)) else None,
            )
            for m in self.memberships
        ]

    def marks(self) -> dict[int, str]:
        return {
            m.user_id: self.cleaned_data[f"m{m.user_id}"]
            for m in self.memberships
            if self.cleaned_data.get(f"m{m.user_id}")
        }

    def removals(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data.get("remove", [])]


def stray_label(row: Attendance) -> str:
    who = row.user.get_full_name() if row.user else "Former member"
    return f"{who}: {row.get_status_display()} (not a member when the meeting started)"


@transaction.atomic
def attendance_save(
    *, meeting: Meeting, marks: dict[int, str], remove: list[int] | None = None
) -> tuple[int, int]:
    """Write the facilitator's marks for one meeting, all or nothing.

    `marks` maps user ids to a status; each must be a man who was a member
    when the meeting started. `remove` deletes this meeting's rows about men
    who were not (a wrong row). Returns (rows written, rows removed).
    """
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status == Meeting.Status.CANCELLED:
        raise CircleError(CANCELLED)
    if meeting.starts_at > timezone.now():
        raise CircleError(NOT_STARTED)
    allowed = set(
        Membership.objects.filter(circle_id=meeting.circle_id)
        .in_circle_at(meeting.starts_at)
        .values_list("user_id", flat=True)
    )
    if set(marks) - allowed:
        raise CircleError(NOT_EXPECTED)
    valid = {status for status, _ in MARKS}
    if set(marks.values()) - valid:
        raise CircleError("Choose present, absent or excused.")
    removed = 0
    if remove:
        strays = meeting.attendance.filter(pk__in=remove).exclude(user_id__in=allowed)
        removed, _ = strays.delete()
    for user_id, status in marks.items():
        Attendance.objects.update_or_create(
            meeting=meeting, user_id=user_id, defaults={"status": status}
        )
    return len(marks), removed


def whos_coming(meeting: Meeting) -> dict[str, list[User]]:
    """The members' answers for a meeting, by name: yes, no, and no answer yet. Two queries."""
    memberships = expected(meeting)
    answers = dict(meeting.rsvps.values_list("user_id", "response"))
    lists: dict[str, list[User]] = {"yes": [], "no": [], "none": []}
    for membership in memberships:
        lists[answers.get(membership.user_id, "none")].append(membership.user)
    return lists


def can_take(meeting: Meeting) -> bool:
    """Attendance is taken once a meeting has started, unless it was cancelled."""
    return meeting.status != Meeting.Status.CANCELLED and meeting.starts_at <= timezone.now()


def saved_summary(written: int, removed: int, expected_count: int) -> str:
    """What the facilitator reads after "Save attendance" (and the admin history keeps)."""
    parts = [f"Attendance saved for {written} of {expected_count} men."]
    if written < expected_count:
        left = expected_count - written
        parts.append(f"{left} not marked yet.")
    if removed:
        parts.append(f"Removed {removed} wrong row{'s' if removed != 1 else ''}.")
    return " ".join(parts)


def recent_meetings(circle: Circle, *, limit: int = RECENT) -> list[Meeting]:
    """The circle's last meetings that have started and were not cancelled, newest first."""
    return list(
        circle.meetings.exclude(status=Meeting.Status.CANCELLED)
        .filter(starts_at__lte=timezone.now())
        .order_by("-starts_at")[:limit]
    )


def roster(circle: Circle) -> list[Membership]:
    """The circle's members (active and paused) by name, for the printable roster."""
    return list(
        circle.memberships.members()
        .select_related("user")
        .order_by("user__full_name", "user__email", "pk")
    )
