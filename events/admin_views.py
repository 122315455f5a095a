"""What the organisers' admin needs beyond Django's own pages.

Check-in at the door (one tap per man), the registrations CSV and the seat
counts. Each read takes an event the admin already checked the user may see
(events/admin.py) and runs a fixed number of queries whatever its size.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Count, Prefetch, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.utils import timezone

from circles.admin_views import csv_safe
from events.models import Answer, Event, Question, Registration

IN_ITS_ZONE = "In the event's time zone (below)."
USE_CANCEL_ACTION = (
    'To cancel, use the list\'s "Cancel events" action: it asks first, tells every man '
    "registered and refunds what each paid."
)
STAYS_CANCELLED = (
    "A cancelled event stays cancelled (its men were told and refunded): make a new one."
)
NOT_AT_THE_DOOR = "That man is not confirmed for this event: nothing was changed."
DOOR_CLOSED = "This event is cancelled: there is nobody to check in."


@dataclass(frozen=True)
class Counts:
    capacity: int
    taken: int  # held + offered + confirmed (the one definition: holding_seats)
    confirmed: int
    paid: int
    free_places: int
    waitlisted: int
    arrived: int


def counts(event: Event) -> Counts:
    """The event's seat counts in one query."""
    live = ~Q(registrations__status=Registration.Status.CANCELLED)
    totals = Event.objects.filter(pk=event.pk).aggregate(
        taken=Count(
            "registrations", filter=Q(registrations__status__in=Registration.SEAT_STATUSES)
        ),
        confirmed=Count(
            "registrations", filter=Q(registrations__status=Registration.Status.CONFIRMED)
        ),
        paid=Count("registrations", filter=live & Q(registrations__payment="paid")),
        free_places=Count("registrations", filter=live & Q(registrations__payment="free_place")),
        waitlisted=Count(
            "registrations", filter=Q(registrations__status=Registration.Status.WAITLISTED)
        ),
        arrived=Count(
            "registrations",
            filter=Q(
                registrations__status=Registration.Status.CONFIRMED,
                registrations__arrived_at__isnull=False,
            ),
        ),
    )
    return Counts(capacity=event.capacity, **totals)


def with_counts(events: QuerySet[Event]) -> QuerySet[Event]:
    """The changelist's columns: seats taken, paid and waitlisted, one subquery each."""
    live = ~Q(registrations__status=Registration.Status.CANCELLED)
    return events.with_seats_taken().annotate(
        paid_count=Count("registrations", filter=live & Q(registrations__payment="paid")),
        waitlisted_count=Count(
            "registrations", filter=Q(registrations__status=Registration.Status.WAITLISTED)
        ),
    )


# --- The event's form -------------------------------------------------------------------


class EventAdminForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = (
            "title",
            "slug",
            "description",
            "starts_at",
            "ends_at",
            "time_zone",
            "public_area",
            "address",
            "joining_details",
            "capacity",
            "visibility",
            "circle",
            "organisers",
            "status",
            "registration_deadline",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The admin's date and time boxes have plain text beside them, no <label>:
        # each gets an aria-label (as circles.admin_views.MeetingAdminForm does).
        for name in ("starts_at", "ends_at", "registration_deadline"):
            if name in self.fields:
                parts = getattr(self.fields[name].widget, "widgets", ())
                for part, what in zip(parts, ("date", "time"), strict=False):
                    part.attrs["aria-label"] = f"{self.fields[name].label}: {what}"
                self.fields[name].help_text = " ".join(
                    filter(None, [self.fields[name].help_text, IN_ITS_ZONE])
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        was = self.instance.status if self.instance.pk else None
        now = cleaned.get("status")
        if now == Event.Status.CANCELLED and was != Event.Status.CANCELLED:
            self.add_error("status", USE_CANCEL_ACTION)
        elif was == Event.Status.CANCELLED and now != Event.Status.CANCELLED:
            self.add_error("status", STAYS_CANCELLED)
        return cleaned


class LabelledRowsFormSet(BaseInlineFormSet):
    """A tabular inline whose every control is named for its row (column headings are
    not tied to the controls for a screen reader)."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        row = "new row" if index is None else f"row {index + 1}"
        noun = self.model._meta.verbose_name
        for name, field in form.fields.items():
            label = "Delete" if name == "DELETE" else (field.label or name)
            widget = field.widget
            getattr(widget, "widget", widget).attrs["aria-label"] = f"{label} ({noun}, {row})"


# --- Check-in at the door -----------------------------------------------------------------


def door_list(event: Event, query: str = "") -> list[Registration]:
    """The confirmed men, by name; `query` narrows by name or email (a long list at the door)."""
    rows = (
        Registration.objects.filter(event=event, status=Registration.Status.CONFIRMED)
        .select_related("user", "tier")
        .order_by("user__full_name", "user__email", "pk")
    )
    query = query.strip()
    if query:
        rows = rows.filter(
            Q(user__full_name__icontains=query)
            | Q(user__display_name__icontains=query)
            | Q(user__email__icontains=query)
        )
    return list(rows)


def registration_mark_arrived(*, event: Event, registration_id: int, arrived: bool) -> Registration:
    """Mark a confirmed man arrived (or undo a wrong tap). Idempotent: a second tap changes nothing.

    Raises ValueError (NOT_AT_THE_DOOR, DOOR_CLOSED) and changes nothing when
    the id is not a confirmed registration of this event.
    """
    if event.status == Event.Status.CANCELLED:
        raise ValueError(DOOR_CLOSED)
    rows = Registration.objects.filter(
        pk=registration_id, event=event, status=Registration.Status.CONFIRMED
    )
    if arrived:
        rows.filter(arrived_at__isnull=True).update(arrived_at=timezone.now())
    else:
        rows.update(arrived_at=None)
    registration = rows.select_related("user").first()
    if registration is None:
        raise ValueError(NOT_AT_THE_DOOR)
    return registration


# --- Registrations CSV --------------------------------------------------------------------


def registrations_csv(event: Event) -> HttpResponse:
    """Every registration (cancelled ones last), with each question's answer: four queries.

    Times in the event's zone. Every cell that a spreadsheet could run as a
    formula is made text (circles.admin_views.csv_safe): the answers are free text.
    """
    questions = list(Question.objects.filter(event=event).order_by("position", "pk"))
    rows = (
        Registration.objects.filter(event=event)
        .select_related("user", "tier")
        .prefetch_related(
            Prefetch(
                "answers", queryset=Answer.objects.only("question_id", "value", "registration_id")
            )
        )
        .order_by("created_at", "pk")
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{event.slug}-registrations.csv"'
    writer = csv.writer(response)
    zone = event.zone

    def local(moment) -> str:
        return f"{timezone.localtime(moment, zone):%Y-%m-%d %H:%M}" if moment else ""

    writer.writerow(
        [
            "Name",
            "Email",
            "Status",
            "Ticket",
            "Amount",
            "Payment",
            "Registered",
            "Arrived",
            *(csv_safe(q.label) for q in questions),
        ]
    )
    ordered = sorted(rows, key=lambda r: r.status == Registration.Status.CANCELLED)
    for registration in ordered:
        answers = {a.question_id: a.value for a in registration.answers.all()}
        cells = [
            registration.user.get_full_name(),
            registration.user.email,
            registration.get_status_display(),
            registration.tier.name if registration.tier else "",
            f"{registration.amount_cents / 100:.2f}" if registration.amount_cents else "",
            registration.get_payment_display(),
            local(registration.created_at),
            local(registration.arrived_at),
            *(answers.get(q.pk, "") for q in questions),
        ]
        writer.writerow([csv_safe(str(cell)) for cell in cells])
    return response
