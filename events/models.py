"""Events and retreats: one-off gatherings men register for, free or with ticket tiers.

Times are stored aware in UTC and shown in the event's own time zone. The
public area is shown to everyone who may see the event; the address and the
joining details only to the men registered for it and its organisers.

Who holds a seat is said once, by `RegistrationQuerySet.holding_seats()`; the
services count it under a row lock of the Event (events.services), so the last
seat is never sold twice.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import time_zone_choices
from circles.models import SEARCH_CONFIG

SLUG_MAX_LENGTH = 120


def search_vector() -> SearchVector:
    """What /events/ searches: the title, public area and description, read as English."""
    return SearchVector("title", "public_area", "description", config=SEARCH_CONFIG)


class EventQuerySet(models.QuerySet):
    def with_seats_taken(self) -> EventQuerySet:
        """Each event with `seats_taken`: its `Registration.objects.holding_seats()` count.

        A subquery, like `Circle.objects.with_seats_held()`: one query for a page of events.
        """
        taken = (
            Registration.objects.holding_seats()
            .filter(event=OuterRef("pk"))
            .order_by()
            .values("event")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(seats_taken=Coalesce(Subquery(taken), 0))

    def upcoming(self) -> EventQuerySet:
        """Not over yet and not a draft; soonest first."""
        return self.exclude(status=Event.Status.DRAFT).filter(ends_at__gt=timezone.now())


class Event(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Everyone"
        MEMBERS = "members", "Signed-in members"
        CIRCLE = "circle", "One circle's members"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        FULL = "full", "Full"
        CANCELLED = "cancelled", "Cancelled"
        FINISHED = "finished", "Finished"

    # Statuses in which men may still register (a full event takes them on its waitlist).
    REGISTERING = (Status.OPEN, Status.FULL)

    slug = models.SlugField(
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        blank=True,
        help_text="Made from the title when left empty.",
    )
    title = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC", choices=time_zone_choices)
    public_area = models.CharField(
        max_length=120, blank=True, help_text="Shown to everyone, e.g. a town or neighbourhood."
    )
    address = models.TextField(blank=True, help_text="Shown only to registered men and organisers.")
    joining_details = models.TextField(
        blank=True,
        help_text="How to get there or join online; shown only to registered men and organisers.",
    )
    capacity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    circle = models.ForeignKey(
        "circles.Circle",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        help_text="The circle whose event this is; its facilitators organise it.",
    )
    organisers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="events_organised"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    registration_deadline = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Registering and cancelling close then; empty: when the event starts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [
            # PostgreSQL only: migration 0001 skips it on SQLite.
            GinIndex(search_vector(), name="event_search"),
            models.Index(fields=["starts_at"], name="events_event_starts_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="events_event_ends_after",
                violation_error_message="An event ends after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1),
                name="events_event_capacity",
                violation_error_message="An event has at least one seat.",
            ),
            models.CheckConstraint(
                condition=~Q(visibility="circle") | Q(circle__isnull=False),
                name="events_circle_event_has_circle",
                violation_error_message="An event for one circle's members names the circle.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = unique_slug(self.title, exclude_pk=self.pk)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("events:detail", args=[self.slug])

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def is_free(self) -> bool:
        """No ticket tiers: registering confirms at once. (One query unless prefetched.)"""
        return not self.tiers.all()

    @property
    def closes_at(self):
        """When registering and cancelling close: the deadline, else the start."""
        return self.registration_deadline or self.starts_at

    def local_starts_at(self):
        return timezone.localtime(self.starts_at, self.zone)

    def local_ends_at(self):
        return timezone.localtime(self.ends_at, self.zone)


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    """A slug from the title, with -2, -3... when an event already has it."""
    base = slugify(title)[: SLUG_MAX_LENGTH - 6].strip("-") or "event"
    taken = set(
        Event.objects.filter(slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


class TicketTier(models.Model):
    """One price on an event's sliding scale (e.g. supported / standard / sponsor)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=60)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.amount_cents / 100:.2f} {self.currency.upper()})"


class Question(models.Model):
    """What the organiser asks each man who registers."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        DIETARY = "dietary", "Dietary needs"
        EMERGENCY_CONTACT = "emergency_contact", "Emergency contact"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEXT)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "pk"]

    def __str__(self) -> str:
        return self.label


class RegistrationQuerySet(models.QuerySet):
    def holding_seats(self) -> RegistrationQuerySet:
        """The registrations that hold a seat now. The one definition.

        Held (paying, or waiting for the verified payment), offered (a seat
        offered to the first waitlisted man, until he answers or the offer
        lapses and `expire_event_offers` passes it on) and confirmed. Not:
        waitlisted or cancelled. Services count it under the Event's row lock.
        """
        return self.filter(status__in=Registration.SEAT_STATUSES)

    def live(self) -> RegistrationQuerySet:
        """Everything but cancelled: at most one of these per man per event."""
        return self.exclude(status=Registration.Status.CANCELLED)

    def waitlist(self) -> RegistrationQuerySet:
        return self.filter(status=Registration.Status.WAITLISTED).order_by("created_at", "pk")


class Registration(models.Model):
    class Status(models.TextChoices):
        HELD = "held", "Held while paying"
        CONFIRMED = "confirmed", "Confirmed"
        WAITLISTED = "waitlisted", "Waitlisted"
        OFFERED = "offered", "Seat offered"
        CANCELLED = "cancelled", "Cancelled"

    class Payment(models.TextChoices):
        FREE = "free", "Free"
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FREE_PLACE_REQUESTED = "free_place_requested", "Free place requested"
        FREE_PLACE = "free_place", "Free place"
        REFUNDED = "refunded", "Refunded"

    SEAT_STATUSES = (Status.HELD, Status.OFFERED, Status.CONFIRMED)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_registrations"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    tier = models.ForeignKey(
        TicketTier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registrations",
    )
    # What he pays (or paid): kept when the tier changes or goes.
    amount_cents = models.PositiveIntegerField(default=0)
    payment = models.CharField(max_length=24, choices=Payment.choices, default=Payment.FREE)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    # Stripe's ids (not secrets): how the verified webhook finds the registration.
    checkout_session_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["event", "status"], name="events_registration_status"),
            models.Index(
                fields=["checkout_session_id"],
                condition=~Q(checkout_session_id=""),
                name="events_registration_checkout",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=~Q(status="cancelled"),
                name="events_one_live_registration",
                violation_error_message="He is already registered for this event.",
            ),
        ]

    def __str__(self) -> str:
        # The email address (accounts' erasure finds him in the admin log by it).
        return f"{self.user} for {self.event}"

    @property
    def has_offer(self) -> bool:
        return (
            self.status == self.Status.OFFERED
            and self.offer_expires_at is not None
            and self.offer_expires_at > timezone.now()
        )

    @property
    def holds_seat(self) -> bool:
        return self.status in self.SEAT_STATUSES


class Answer(models.Model):
    """His answer to one of the event's questions: only organisers (and he) read it."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    value = models.TextField(max_length=1000)

    class Meta:
        ordering = ["question__position", "question__pk"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "question"], name="events_answer_once"),
        ]

    def __str__(self) -> str:
        return f"answer to {self.question}"
