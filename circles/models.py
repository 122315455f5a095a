"""Circles, who is in them, their agreements, meetings, RSVPs and attendance.

Times are stored in UTC; a circle's schedule (weekday, local start time) lives
in the circle's own time zone and is turned into UTC per meeting, so a weekly
19:00 circle stays at 19:00 local across daylight-saving changes.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts.models import time_zone_choices

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


# The directory's search reads a circle's name, public area and description as
# English (stemmed: "grieving" finds "grief"'s neighbours "grieve", "grieving").
# On PostgreSQL a GIN index on exactly this expression answers it
# (circles.selectors.search_circles); the embedded SQLite default has no index
# and falls back to icontains.
SEARCH_CONFIG = "english"


def search_vector() -> SearchVector:
    return SearchVector("name", "public_area", "description", config=SEARCH_CONFIG)


class CircleQuerySet(models.QuerySet):
    def with_seats_held(self) -> CircleQuerySet:
        """Each circle with `seats_held`: its `Membership.objects.holding_seats()` count.

        A subquery, not a join and GROUP BY: one query for any number of
        circles, and the rows can still be filtered and ordered by the count.
        """
        held = (
            Membership.objects.holding_seats()
            .filter(circle=OuterRef("pk"))
            .order_by()
            .values("circle")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(seats_held=Coalesce(Subquery(held), 0))


class Circle(models.Model):
    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        OPEN = "open", "Open"
        FULL = "full", "Full"
        CLOSED = "closed", "Closed"

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        BIWEEKLY = "biweekly", "Every other week"
        MONTHLY = "monthly", "Monthly, on the n-th weekday"

    class LocationKind(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        ONLINE = "online", "Online"
        HYBRID = "hybrid", "Hybrid"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    capacity = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(2), MaxValueValidator(30)]
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FORMING)
    is_listed = models.BooleanField(
        default=True, help_text="Shown in the directory; unlisted circles are invite-only."
    )

    time_zone = models.CharField(max_length=64, default="UTC", choices=time_zone_choices)
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start_time = models.TimeField(help_text="Local time in the circle's time zone.")
    duration_minutes = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(15), MaxValueValidator(600)]
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default="weekly")
    week_of_month = models.SmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="For monthly circles: 1st to 4th weekday of the month.",
    )
    starts_on = models.DateField(
        default=timezone.localdate,
        help_text="First possible meeting date; every-other-week counts from here.",
    )

    location_kind = models.CharField(
        max_length=10, choices=LocationKind.choices, default=LocationKind.IN_PERSON
    )
    public_area = models.CharField(
        max_length=120, blank=True, help_text="Shown to everyone, e.g. a neighbourhood."
    )
    private_address = models.TextField(blank=True, help_text="Members only.")
    video_link = models.URLField(blank=True, help_text="Members only.")
    first_night = models.TextField(
        blank=True,
        max_length=1500,
        help_text="Your first night: what a newcomer can expect. Shown on the circle's page.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CircleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # PostgreSQL only: migration 0007 skips it on SQLite.
        indexes = [GinIndex(search_vector(), name="circle_search")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(frequency="monthly") | Q(week_of_month__isnull=False),
                name="circles_monthly_needs_week_of_month",
                violation_error_message="A monthly circle needs the week of the month.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("circles:detail", args=[self.slug])

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def is_online(self) -> bool:
        return self.location_kind != self.LocationKind.IN_PERSON

    def schedule_text(self) -> str:
        day = dict(WEEKDAYS)[self.weekday]
        at = self.start_time.strftime("%H:%M")
        if self.frequency == self.Frequency.MONTHLY:
            nth = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}.get(self.week_of_month or 1)
            return f"{nth} {day} of the month, {at} ({self.time_zone})"
        every = "Every other" if self.frequency == self.Frequency.BIWEEKLY else "Every"
        return f"{every} {day}, {at} ({self.time_zone})"

    def local_start(self, day) -> datetime:
        """The UTC start of a meeting on local date `day`, DST-correct."""
        local = datetime.combine(day, self.start_time, tzinfo=self.zone)
        return local.astimezone(zoneinfo.ZoneInfo("UTC"))

    def meets_on(self, day) -> bool:
        if day < self.starts_on or day.weekday() != self.weekday:
            return False
        if self.frequency == self.Frequency.BIWEEKLY:
            return ((day - self.starts_on).days // 7) % 2 == 0
        if self.frequency == self.Frequency.MONTHLY:
            return (day.day - 1) // 7 + 1 == self.week_of_month
        return True

    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class MembershipQuerySet(models.QuerySet):
    def active(self) -> MembershipQuerySet:
        return self.filter(status=Membership.Status.ACTIVE)

    def members(self) -> MembershipQuerySet:
        """The men in their circles: active, or paused (away for a while, seat kept)."""
        return self.filter(status__in=Membership.MEMBER_STATUSES)

    def holding_seats(self) -> MembershipQuerySet:
        """The memberships that hold a seat in their circle now. The one definition.

        A seat is held by every membership that can be (or is) in the circle
        without anyone finding a seat for it first:

        - active members, whatever their role (facilitators sit in the circle too);
        - paused members: still in the circle, and nothing checks for a free
          seat when they come back, so their seat is kept;
        - pending requests (REQUESTED): the facilitator may approve one at any
          time, until `requests_expire` marks it EXPIRED (14 days; the cron
          runs hourly) — it holds its seat by status, not by age, because
          until then it can still be approved;
        - live seat offers: a waitlisted man whose offer has not run out yet
          (`offer_expires_at` in the future). An offer past its time holds
          nothing, even before `offers_expire` has moved him back.

        Not: waitlisted men without a live offer, and requests that were
        declined, expired or left. Services (`circles.services.seats_held`),
        pages and the API (`Circle.objects.with_seats_held()`) and the admin's
        seat count all read this method; nothing else says who holds a seat.
        """
        return self.filter(
            Q(status__in=[*Membership.MEMBER_STATUSES, Membership.Status.REQUESTED])
            | Q(status=Membership.Status.WAITLISTED, offer_expires_at__gt=timezone.now())
        )

    def facilitating(self) -> MembershipQuerySet:
        return self.active().filter(
            role__in=[Membership.Role.FACILITATOR, Membership.Role.CO_FACILITATOR]
        )

    def waitlist(self) -> MembershipQuerySet:
        return self.filter(status=Membership.Status.WAITLISTED).order_by("requested_at", "pk")

    def in_circle_at(self, moment: datetime) -> MembershipQuerySet:
        """The men who were members at `moment`: joined by then and not left before it.

        Who a meeting's attendance is about. A request or a waitlist place was
        never membership; a man who left since still counts for his meetings.
        """
        return self.filter(
            Q(left_at__isnull=True) | Q(left_at__gt=moment),
            status__in=[*Membership.MEMBER_STATUSES, Membership.Status.LEFT],
            joined_at__lte=moment,
        )


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        FACILITATOR = "facilitator", "Facilitator"
        CO_FACILITATOR = "co_facilitator", "Co-facilitator"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        WAITLISTED = "waitlisted", "Waitlisted"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        LEFT = "left", "Left"
        DECLINED = "declined", "Declined"
        # A request nobody answered in time (circles.services.REQUEST_DAYS).
        EXPIRED = "expired", "Expired"

    # In the circle: what `MembershipQuerySet.members()` and the seat count build on.
    MEMBER_STATUSES = (Status.ACTIVE, Status.PAUSED)

    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    # A seat offered to the first man on the waitlist, until this moment.
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    # What this member shows the rest of his circle.
    introduction = models.TextField(
        blank=True,
        max_length=1000,
        help_text="A few words about himself with his request; only the facilitators read it.",
    )
    bio = models.TextField(
        blank=True,
        max_length=600,
        help_text="A facilitator's short bio, shown on the circle's page.",
    )
    share_email = models.BooleanField(default=False)
    share_phone = models.BooleanField(default=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["circle", "user"], name="circles_one_membership"),
        ]
        indexes = [models.Index(fields=["circle", "status"])]

    def __str__(self) -> str:
        # The email address, not the name: account deletion finds him in the admin
        # log by it (accounts.erasure); pages show his name themselves.
        return f"{self.user} in {self.circle}"

    @property
    def is_facilitator(self) -> bool:
        return self.status == self.Status.ACTIVE and self.role != self.Role.MEMBER

    @property
    def has_offer(self) -> bool:
        return (
            self.status == self.Status.WAITLISTED
            and self.offer_expires_at is not None
            and self.offer_expires_at > timezone.now()
        )


class Agreement(models.Model):
    """One version of a circle's agreements; the highest version is current."""

    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="agreements")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["circle", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["circle", "version"], name="circles_agreement_version"),
        ]

    def __str__(self) -> str:
        return f"{self.circle} agreements v{self.version}"


class AgreementAcceptance(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="acceptances")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agreement_acceptances"
    )
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agreement", "user"], name="circles_accept_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.agreement}"


class MeetingQuerySet(models.QuerySet):
    def upcoming(self) -> MeetingQuerySet:
        return self.filter(status=Meeting.Status.SCHEDULED, ends_at__gt=timezone.now()).order_by(
            "starts_at"
        )


class Meeting(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"
        HELD = "held", "Held"

    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="meetings")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    note = models.CharField(max_length=200, blank=True)
    cancel_reason = models.CharField(
        max_length=300, blank=True, help_text="Told to the members when the meeting is cancelled."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="meetings_led",
        help_text="The member leading this meeting.",
    )

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            # The meetings starting in a window, whatever the circle: what
            # reminders pick every few minutes (circles.reminders). Without
            # it, a sequential scan of every meeting ever held.
            models.Index(fields=["starts_at"], name="circles_meeting_starts_at"),
        ]
        constraints = [
            # Also what makes schedule_meetings idempotent and keeps a
            # cancelled date from being scheduled again.
            models.UniqueConstraint(fields=["circle", "starts_at"], name="circles_meeting_once"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="circles_meeting_ends_after"
            ),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at, self.circle.zone)
        return f"{self.circle} on {local:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("circles:meeting", args=[self.pk])


class RSVP(models.Model):
    class Response(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"

    class Channel(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        SMS = "sms", "SMS"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="rsvps")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rsvps"
    )
    response = models.CharField(max_length=3, choices=Response.choices)
    channel = models.CharField(max_length=3, choices=Channel.choices, default=Channel.WEB)
    responded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "RSVP"
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], name="circles_one_rsvp"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.response} to {self.meeting}"


class AttendanceQuerySet(models.QuerySet):
    def since_joined(self) -> AttendanceQuerySet:
        """Rows for meetings since the man joined the circle (and of deleted men, anonymous).

        What the reports count: a meeting before he joined is not one he missed.
        """
        joined_by_then = Membership.objects.filter(
            circle_id=OuterRef("meeting__circle_id"),
            user_id=OuterRef("user_id"),
            joined_at__lte=OuterRef("meeting__starts_at"),
        )
        return self.filter(Q(user__isnull=True) | Exists(joined_by_then))


class Attendance(models.Model):
    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        EXCUSED = "excused", "Excused absence"
        UNEXCUSED = "unexcused", "Unexcused absence"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    # SET_NULL: a deleted member leaves an anonymous count behind.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attendance",
    )
    status = models.CharField(max_length=10, choices=Status.choices)

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "attendance"
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "user"],
                condition=Q(user__isnull=False),
                name="circles_attendance_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or 'former member'}: {self.status} at {self.meeting}"


class CalendarFeed(models.Model):
    """A member's secret calendar-feed token, hashed, in the credentials database."""

    user_id = models.BigIntegerField(unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token is HMAC(SECRET_KEY, user and nonce): kept so the page can show
    # his link again; empty for a link made before (circles.services).
    nonce = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"calendar feed of user {self.user_id}"


class FacilitatorNote(models.Model):
    """A facilitator's private note about a member: only its author (and superusers) read it
    in the admin; the member reads it in his export (circles.exports).

    In the credentials database, referring to people and circles by plain ids.
    """

    author_id = models.BigIntegerField(db_index=True)
    member_id = models.BigIntegerField(db_index=True)
    circle_id = models.BigIntegerField(db_index=True)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"note #{self.pk}"
