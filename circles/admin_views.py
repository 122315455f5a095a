"""What the facilitator admin needs beyond Django's own pages.

Forms (including "Message this circle"), reads for the "At risk" page, the
attendance CSV and the attendance chart. Each read takes the circles already
scoped to the facilitator (circles/admin.py) and runs a fixed number of queries
whatever the data size.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

from django import forms
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import User
from billing.selectors import PAST_DUE, dues_statuses
from circles import attendance, broadcasts, services
from circles.models import Attendance, Circle, FacilitatorNote, Meeting, Membership
from circles.selectors import public_name

# "Drifting away": this many unexcused absences in a member's last LOOKBACK meetings.
LOOKBACK = 4
MISSES = 2
# A join request unanswered this long needs the facilitator's attention.
WAITING_DAYS = 3
CHART_MEETINGS = 12
# Spreadsheets run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def held_or_past(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """Meetings that took place (or should have): held, or started and not cancelled."""
    return meetings.exclude(status=Meeting.Status.CANCELLED).filter(
        Q(status=Meeting.Status.HELD) | Q(starts_at__lte=timezone.now())
    )


# --- Forms --------------------------------------------------------------------------------


USE_CANCEL_ACTION = (
    'To cancel, use the list\'s "Cancel meetings" action: it asks for the reason '
    "and tells the members."
)
USE_REINSTATE_ACTION = (
    'To put a cancelled meeting back on, use the list\'s "Reinstate cancelled meetings" '
    "action: it tells the members."
)
CANCEL_NEEDS_REASON = "Say why it is cancelled: the members read this."


class CancelMeetingsForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Told to the members, e.g. "I\'m away this week; we meet again on the 14th."',
        error_messages={"required": CANCEL_NEEDS_REASON},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(CANCEL_NEEDS_REASON)
        return reason


class MeetingAdminForm(forms.ModelForm):
    class Meta:
        model = Meeting
        fields = ("circle", "starts_at", "ends_at", "status", "note", "leader")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The admin's date and time boxes have plain text beside them, no
        # <label>: a screen reader would announce two unnamed boxes.
        for name in ("starts_at", "ends_at"):
            parts = getattr(self.fields[name].widget, "widgets", ())
            for part, what in zip(parts, ("date", "time"), strict=False):
                part.attrs["aria-label"] = f"{self.fields[name].label}: {what}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        was, now = self.instance.status if self.instance.pk else None, cleaned.get("status")
        if now == Meeting.Status.CANCELLED and was != Meeting.Status.CANCELLED:
            self.add_error("status", USE_CANCEL_ACTION)
        elif was == Meeting.Status.CANCELLED and now == Meeting.Status.SCHEDULED:
            self.add_error("status", USE_REINSTATE_ACTION)
        circle, leader = cleaned.get("circle"), cleaned.get("leader")
        if circle and leader and not circle.memberships.active().filter(user=leader).exists():
            self.add_error("leader", "Choose an active member of this circle.")
        return cleaned


class AttendanceFormSet(BaseInlineFormSet):
    """The meeting page's attendance rows, each control named for its row.

    A tabular inline shows its labels as column headings, which a screen
    reader does not tie to the controls: each gets an aria-label instead.
    """

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        user = form.instance.user if form.instance.user_id else None
        whose = f" of {user.get_full_name()}" if user else ""
        labels = {
            "user": "Member",
            "status": f"Attendance{whose}",
            "DELETE": f"Delete the attendance row{whose}",
        }
        for name, label in labels.items():
            if name in form.fields:
                widget = form.fields[name].widget
                # The admin wraps a foreign key's <select> (RelatedFieldWidgetWrapper),
                # whose own attrs are shared between the rows: label the inner one.
                getattr(widget, "widget", widget).attrs["aria-label"] = label

    def clean(self) -> None:
        super().clean()
        meeting = self.instance
        allowed = set(
            Membership.objects.filter(circle_id=meeting.circle_id)
            .in_circle_at(meeting.starts_at)
            .values_list("user_id", flat=True)
        )
        for form in self.forms:
            user = form.cleaned_data.get("user") if hasattr(form, "cleaned_data") else None
            if (
                user is not None
                and "user" in form.changed_data
                and not form.cleaned_data.get("DELETE")
                and user.pk not in allowed
            ):
                form.add_error("user", attendance.NOT_EXPECTED)


# Private from everyone else, not from him (circles.exports).
NOTE_SHOWN_TO_MEMBER = (
    "Only you and the site's administrators see this note here. The member it is about can "
    'read it too: it is part of his data export ("Download my data").'
)


class FacilitatorNoteForm(forms.ModelForm):
    """Circle and member as choices: the note stores plain ids (no FK crosses databases)."""

    circle = forms.TypedChoiceField(coerce=int)
    member = forms.TypedChoiceField(coerce=int)

    # Set per request by note_form_for.
    circle_choices: list[tuple[int, str]] = []
    member_choices: list[tuple[str, list[tuple[int, str]]]] = []
    allowed: frozenset[tuple[int, int]] = frozenset()

    class Meta:
        model = FacilitatorNote
        fields = ("circle", "member", "text")
        help_texts = {"text": NOTE_SHOWN_TO_MEMBER}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["circle"].choices = [("", "---------"), *self.circle_choices]
        self.fields["member"].choices = [("", "---------"), *self.member_choices]
        if self.instance.pk:
            self.initial.update(circle=self.instance.circle_id, member=self.instance.member_id)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        circle, member = cleaned.get("circle"), cleaned.get("member")
        if circle is not None and member is not None and (circle, member) not in self.allowed:
            self.add_error("member", "Choose a member of the chosen circle.")
        return cleaned


def note_form_for(
    form: type[FacilitatorNoteForm], circles: QuerySet[Circle], *, author: User
) -> type[FacilitatorNoteForm]:
    """The note form with its choices: `circles` and their members (but not the author)."""
    memberships = (
        Membership.objects.filter(circle__in=circles)
        .exclude(user_id=author.pk)
        .select_related("user", "circle")
        .order_by("circle__name", "user__full_name", "pk")
    )
    grouped: dict[str, list[tuple[int, str]]] = {}
    for m in memberships:
        label = f"{m.user.get_full_name()} ({m.get_status_display().lower()})"
        grouped.setdefault(m.circle.name, []).append((m.user_id, label))
    return type(
        form.__name__,
        (form,),
        {
            "circle_choices": [(c.pk, c.name) for c in circles.order_by("name")],
            "member_choices": list(grouped.items()),
            "allowed": frozenset((m.circle_id, m.user_id) for m in memberships),
        },
    )


class BroadcastForm(forms.Form):
    """What a facilitator writes to his circle; limits from circles.broadcasts."""

    # One key per form shown: a second submit of the same form sends nothing.
    key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].initial = uuid4().hex

    channels = forms.MultipleChoiceField(
        choices=[("email", "Email"), ("sms", "SMS (text message)")],
        widget=forms.CheckboxSelectMultiple,
        initial=["email"],
        help_text="Each man gets it only on the channels he accepts messages from facilitators.",
        error_messages={"required": "Choose email, SMS or both."},
    )
    title = forms.CharField(
        max_length=broadcasts.MAX_TITLE,
        required=False,
        help_text="The email's subject (not used in a text message).",
    )
    text = forms.CharField(
        label="Message",
        max_length=broadcasts.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=(
            f"Up to {broadcasts.MAX_TEXT} characters; "
            f"{broadcasts.MAX_SMS_TEXT} when sent by SMS. Signed with your first name."
        ),
        error_messages={"required": "Write a message."},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        channels, text = cleaned.get("channels") or [], cleaned.get("text") or ""
        if "email" in channels and not cleaned.get("title"):
            self.add_error("title", "An email needs a title.")
        if "sms" in channels and len(text) > broadcasts.MAX_SMS_TEXT:
            self.add_error(
                "text",
                f"A text message can be at most {broadcasts.MAX_SMS_TEXT} characters "
                f"(this one has {len(text)}). Shorten it, or send it by email only.",
            )
        return cleaned


def broadcast_summary(queued: int, channels: list[str]) -> str:
    """What the facilitator sees, and the admin history keeps, after "Send"."""
    if not queued:
        return "Nobody in the circle takes messages by the chosen channels: nothing was sent."
    names = " and ".join("SMS" if c == "sms" else "email" for c in channels)
    return f"Messaged the circle: {queued} message{'s' if queued != 1 else ''} queued by {names}."


class NoteChangeList(ChangeList):
    """Names for the notes on this page from the main database: two queries per page."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        notes = list(self.result_list)
        users = User.objects.in_bulk({n.member_id for n in notes} | {n.author_id for n in notes})
        circles = Circle.objects.in_bulk({n.circle_id for n in notes})
        for note in notes:
            note.member = users.get(note.member_id)
            note.author = users.get(note.author_id)
            note.circle = circles.get(note.circle_id)
        self.result_list = notes


def name_of(obj: Any) -> str:
    if obj is None:
        return "(deleted)"
    return obj.get_full_name() if isinstance(obj, User) else str(obj)


# --- At risk ----------------------------------------------------------------------------


@dataclass
class CircleAtRisk:
    circle: Circle
    drifting: list[Membership] = field(default_factory=list)
    waiting: list[Membership] = field(default_factory=list)
    # Lapsed dues: the status word only, never amounts. Nobody is removed for it.
    dues: list[Membership] = field(default_factory=list)


def at_risk(circles: QuerySet[Circle]) -> list[CircleAtRisk]:
    """Per circle: active members drifting away, and join requests left unanswered.

    A member drifts when he has MISSES+ unexcused absences in the circle's last
    LOOKBACK held-or-past meetings, counting only meetings since he joined
    (a row for an earlier one, however it got there, is not a miss).
    Three queries, whatever the number of circles, members or meetings.
    """
    report = {circle.pk: CircleAtRisk(circle) for circle in circles}
    circle_ids = list(report)
    recent = (
        held_or_past(Meeting.objects.filter(circle_id__in=circle_ids))
        .annotate(
            recency=Window(RowNumber(), partition_by=F("circle_id"), order_by=F("starts_at").desc())
        )
        .filter(recency__lte=LOOKBACK)
        .values("pk")
    )
    misses = Count(
        "user__attendance",
        filter=Q(
            user__attendance__status=Attendance.Status.UNEXCUSED,
            user__attendance__meeting__in=recent,
            user__attendance__meeting__circle_id=F("circle_id"),
            # Only meetings since he joined: an earlier one is not one he missed.
            user__attendance__meeting__starts_at__gte=F("joined_at"),
        ),
    )
    drifting = (
        Membership.objects.active()
        .filter(circle_id__in=circle_ids)
        .annotate(misses=misses)
        .filter(misses__gte=MISSES)
        .select_related("user")
        .order_by("-misses", "user__full_name", "pk")
    )
    for membership in drifting:
        report[membership.circle_id].drifting.append(membership)
    waiting = (
        Membership.objects.filter(
            circle_id__in=circle_ids,
            status=Membership.Status.REQUESTED,
            requested_at__lt=timezone.now() - timedelta(days=WAITING_DAYS),
        )
        .select_related("user")
        .order_by("requested_at", "pk")
    )
    overdue = timezone.now() - timedelta(days=services.OVERDUE_DAYS)
    for membership in waiting:
        # Waited a week: the superusers are reminded of it daily too (requests_nudge).
        membership.overdue = membership.requested_at <= overdue
        report[membership.circle_id].waiting.append(membership)
    active = list(
        Membership.objects.active().filter(circle_id__in=circle_ids).select_related("user")
    )
    statuses = dues_statuses(m.user_id for m in active)
    for membership in active:
        if statuses[membership.user_id].word == PAST_DUE:
            report[membership.circle_id].dues.append(membership)
    return list(report.values())


# --- Attendance CSV ---------------------------------------------------------------------


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def attendance_csv(circle: Circle) -> HttpResponse:
    """The circle's attendance rows since each man joined: meeting date (circle's time
    zone), member, status."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{circle.slug}-attendance.csv"'
    writer = csv.writer(response)
    writer.writerow(["date", "member", "status"])
    rows = (
        Attendance.objects.filter(meeting__circle=circle)
        .since_joined()
        .select_related("meeting", "user")
        .order_by("meeting__starts_at", "user__full_name", "pk")
    )
    zone = circle.zone
    for row in rows.iterator(chunk_size=500):
        day = timezone.localtime(row.meeting.starts_at, zone).date().isoformat()
        member = public_name(row.user) if row.user else "Former member"
        writer.writerow([csv_safe(day), csv_safe(member), csv_safe(row.get_status_display())])
    return response


# --- Attendance chart -------------------------------------------------------------------

# Geometry (user units): a slot per meeting, the y scale's labels on the left,
# two lines of date (day, month) under each bar.
SLOT, BAR, PLOT_HEIGHT, TOP, BOTTOM, LEFT, RIGHT = 32, 20, 120, 24, 36, 40, 8
MAX_TICKS = 5


@dataclass(frozen=True)
class ChartPoint:
    day: date
    present: int


def attendance_points(circle: Circle) -> list[ChartPoint]:
    """Members present at each of the last CHART_MEETINGS meetings, oldest first. One query."""
    meetings = list(
        held_or_past(circle.meetings.all())
        .annotate(
            present=Count(
                "attendance",
                filter=Q(
                    attendance__status=Attendance.Status.PRESENT,
                    attendance__in=Attendance.objects.since_joined(),
                ),
            )
        )
        .order_by("-starts_at")[:CHART_MEETINGS]
    )
    zone = circle.zone
    return [
        ChartPoint(timezone.localtime(m.starts_at, zone).date(), m.present)
        for m in reversed(meetings)
    ]


def chart_ticks(top: int) -> list[int]:
    """Round values from 0 to at least `top`, at most MAX_TICKS + 1 of them."""
    steps = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    step = next((s for s in steps if -(-top // s) <= MAX_TICKS), 10 ** len(str(top)))
    return list(range(0, -(-max(top, 1) // step) * step + 1, step))


def attendance_summary(circle: Circle, points: list[ChartPoint]) -> str:
    """The chart in one sentence, for screen readers (its <desc>) and anyone without it."""
    if not points:
        return "No meetings held yet."
    fewest = min(points, key=lambda p: p.present)
    most = max(points, key=lambda p: p.present)
    average = sum(p.present for p in points) / len(points)
    return (
        f"From {points[0].day:%d %b %Y} to {points[-1].day:%d %b %Y}, "
        f"{average:.1f} of {circle.capacity} present on average; "
        f"fewest {fewest.present} on {fewest.day:%d %b %Y}, "
        f"most {most.present} on {most.day:%d %b %Y}."
    )


def attendance_chart_svg(circle: Circle, points: list[ChartPoint] | None = None) -> str:
    """Bars of how many were present at each of the last CHART_MEETINGS meetings.

    Plain SVG built on the server, every text escaped: the meeting dates along
    the x axis, a labelled y scale with grid lines, and a text alternative
    (role="img" named by its <title>, described by its <desc>; a <title> per
    bar for tooltips). One query when `points` is not given.
    """
    points = attendance_points(circle) if points is None else points
    ticks = chart_ticks(max([circle.capacity, *(p.present for p in points)]))
    scale_top = ticks[-1]
    width = LEFT + max(len(points), 1) * SLOT + RIGHT
    height = TOP + PLOT_HEIGHT + BOTTOM
    base = TOP + PLOT_HEIGHT
    title_id, desc_id = f"attendance-chart-{circle.pk}", f"attendance-chart-{circle.pk}-desc"
    title = f"Members present at the last {len(points)} meetings of {circle.name}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="attendance-chart" role="img" '
        f'aria-labelledby="{title_id}" aria-describedby="{desc_id}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(attendance_summary(circle, points))}</desc>',
        f'<text class="axis-title" x="0" y="{TOP - 10}" aria-hidden="true">Present</text>',
    ]
    for tick in ticks:
        y = base - round(PLOT_HEIGHT * tick / scale_top)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}" '
            f'stroke="#ccc" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end" '
            f'aria-hidden="true">{tick}</text>'
        )
    parts += [
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" '
        f'stroke="#666" stroke-width="1"/>',
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}" '
        f'stroke="#666" stroke-width="1"/>',
    ]
    if not points:
        parts.append(
            f'<text x="{LEFT + 8}" y="{TOP + PLOT_HEIGHT // 2}" aria-hidden="true">'
            "No meetings yet.</text>"
        )
    for index, point in enumerate(points):
        bar_height = round(PLOT_HEIGHT * point.present / scale_top)
        x = LEFT + index * SLOT + (SLOT - BAR) // 2
        middle = x + BAR // 2
        label = f"{point.day:%a %d %b %Y}: {point.present} of {circle.capacity} present"
        parts.append(
            f'<rect class="bar" x="{x}" y="{base - bar_height}" width="{BAR}" '
            f'height="{bar_height}" fill="#417690"><title>{escape(label)}</title></rect>'
        )
        parts.append(
            f'<text class="date" x="{middle}" y="{base + 14}" text-anchor="middle" '
            f'aria-hidden="true"><tspan x="{middle}">{point.day.day}</tspan>'
            f'<tspan x="{middle}" dy="13">{point.day:%b}</tspan></text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def attendance_chart_response(circle: Circle) -> HttpResponse:
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + attendance_chart_svg(circle)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # Opened on its own, the image may run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
