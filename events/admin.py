"""The organisers' admin: each organiser sees and runs only the events he organises.

Organisers are staff in the "Organisers" group (model permissions) named on
an event; a circle's facilitators organise that circle's events; superusers
organise every event (events.scope). As in the facilitator admin
(circles/admin.py), scope is in the data, not the links: every queryset,
object permission and choice is limited to his events, and an object outside
them answers 404 by any URL.

Registrations are read here, not edited: men register, pay and cancel
themselves through events.services. At the door an organiser marks each man
arrived with one tap (the "Check-in" page), exports the registrations with
their answers as CSV, and may message every man registered, with the limits of
a facilitator's message to his circle.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from accounts.admin_writes import ChangedFieldsOnly
from accounts.models import User
from circles.admin import NotFoundOutsideScope, facilitated_circle_ids, scoped_circles
from circles.admin_views import BroadcastForm
from circles.broadcasts import BROADCASTS_PER_WINDOW
from circles.models import Membership
from events import admin_views, broadcasts, payment_admin, payments, services
from events import messages as event_messages
from events.groups import GROUP as ORGANISERS
from events.models import Answer, Event, Question, Registration, TicketTier
from events.scope import organised_filter


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # read from disk: once per process


# A change to any of these may free seats for the waitlist.
SEAT_FIELDS = {"capacity", "registration_deadline", "status"}
CHOOSE_ONE_EVENT = "Choose one of your events to message its men."

# --- Scope ------------------------------------------------------------------------------


def organised_event_ids(request: HttpRequest) -> list[int] | None:
    """The events this user organises, or None for every event (superusers).

    Asked once per request: object checks reuse the answer.
    """
    if request.user.is_superuser:
        return None
    if not hasattr(request, "_organised_event_ids"):
        request._organised_event_ids = list(
            Event.objects.filter(organised_filter(request.user)).values_list("pk", flat=True)
        )
    return request._organised_event_ids


def in_scope(request: HttpRequest, event_id: int | None) -> bool:
    ids = organised_event_ids(request)
    return ids is None or event_id in ids


def organiser_choices(request: HttpRequest) -> QuerySet[User]:
    """Who may be named an organiser: active staff, and for all but superusers only his
    colleagues (the Organisers group, his own circles' facilitators, himself), never
    another circle's facilitators. Names, not addresses, are shown (the form field)."""
    staff = User.objects.filter(is_staff=True, is_active=True)
    if request.user.is_superuser:
        return staff
    circles = facilitated_circle_ids(request) or []
    colleagues = (
        Q(groups__name=ORGANISERS)
        | Q(pk=request.user.pk)
        | Q(
            pk__in=Membership.objects.facilitating().filter(circle_id__in=circles).values("user_id")
        )
    )
    event_id = getattr(request, "_event_being_edited", None)
    if event_id is not None:
        organisers = Event.organisers.through.objects.filter(event_id=event_id)
        colleagues |= Q(pk__in=organisers.values("user_id"))
    return staff.filter(colleagues).distinct()


class EventScopedAdmin(ChangedFieldsOnly, NotFoundOutsideScope, admin.ModelAdmin):
    """A model reached through `event`: rows and object permissions scoped to his events."""

    event_lookup = "event"

    def event_id_of(self, obj: models.Model) -> int | None:
        return obj.event_id

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        ids = organised_event_ids(request)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.event_lookup}__in": ids})

    def _obj_in_scope(self, request: HttpRequest, obj: models.Model | None) -> bool:
        return obj is None or in_scope(request, self.event_id_of(obj))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._obj_in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._obj_in_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._obj_in_scope(request, obj)


# --- Events -----------------------------------------------------------------------------


class EventChildInline(admin.TabularInline):
    """Tiers and questions belong to the event: the event's scope is theirs."""

    extra = 0

    def _event_ok(self, request: HttpRequest, obj: Event | None) -> bool:
        return obj is None or in_scope(request, obj.pk)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._event_ok(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._event_ok(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._event_ok(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._event_ok(request, obj)


class TicketTierInline(EventChildInline):
    formset = admin_views.LabelledRowsFormSet
    model = TicketTier
    fields = ("name", "amount_cents", "currency", "stripe_price_id", "position")
    verbose_name_plural = "ticket tiers (none: entry is free)"


class QuestionInline(EventChildInline):
    formset = admin_views.LabelledRowsFormSet
    model = Question
    fields = ("label", "kind", "required", "position")
    verbose_name_plural = "questions each man answers when he registers"


@admin.register(Event)
class EventAdmin(EventScopedAdmin):
    event_lookup = "pk"
    list_display = (
        "title",
        "local_start",
        "status",
        "visibility",
        "seats",
        "paid",
        "waitlisted",
        "door_link",
    )
    list_filter = ("status", "visibility")
    list_select_related = ("circle",)
    search_fields = ("title", "slug", "public_area")
    ordering = ("-starts_at",)
    form = admin_views.EventAdminForm
    inlines = [TicketTierInline, QuestionInline]
    # Counts, and links to check-in, the CSV and "Message the men registered".
    change_form_template = "admin/events/event/change_form.html"
    actions = ["message_registrants", "cancel_events"]

    def event_id_of(self, obj: Event) -> int:
        return obj.pk

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return admin_views.with_counts(super().get_queryset(request))

    # Organisers and facilitators run events; only superusers remove one (its men's
    # registrations, payments and answers go with it).
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("created_at", "updated_at") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "circle":
            # A circle's event only for a circle he runs.
            kwargs["queryset"] = scoped_circles(request).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Its times are read and written in the event's own time zone (the one posted,
        # else the saved one's), like every other place that shows them.
        with timezone.override(self._form_zone(request, object_id)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def _form_zone(self, request: HttpRequest, object_id: str | None) -> ZoneInfo | None:
        names = [request.POST.get("time_zone", "")] if request.method == "POST" else []
        if object_id and object_id.isdigit() and len(object_id) < 19:
            names += (
                self.get_queryset(request)
                .filter(pk=int(object_id))
                .values_list("time_zone", flat=True)[:1]
            )
        for name in names:
            if name in known_zones():
                return ZoneInfo(name)
        return timezone.get_current_timezone()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        # Its organisers stay choices even if no longer his colleagues (organiser_choices).
        request._event_being_edited = obj.pk if obj is not None else None
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "organisers":
            kwargs["queryset"] = organiser_choices(request).order_by("full_name", "email")
            # A box per colleague: a thumb can tick one on a phone, and each is labelled.
            kwargs["widget"] = forms.CheckboxSelectMultiple
            formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
            formfield.label_from_instance = User.get_full_name
            return formfield
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        event = form.instance
        if not change and not request.user.is_superuser:
            # Whoever makes an event organises it (else it would vanish from his list).
            event.organisers.add(request.user)
        if change and SEAT_FIELDS & set(form.changed_data):
            # More seats, a later deadline or an event reopened: the men waiting
            # are offered the free seats now, as a circle's are.
            offered = services.seat_offer_next(event=event)
            if offered:
                self.message_user(
                    request,
                    f"{event}: {len(offered)} seat{'s' if len(offered) != 1 else ''} offered "
                    "to the men waiting.",
                    messages.INFO,
                )
        if change:
            changed = [name for name in event_messages.CHANGE_FIELDS if name in form.changed_data]
            told = event_messages.changed(event, changes=changed) if changed else 0
            if told:
                self.message_user(
                    request,
                    f"{event}: its time or place changed, so its men are told "
                    f"({told} message{'s' if told != 1 else ''} queued).",
                    messages.INFO,
                )

    @admin.display(description="Starts (event's time)", ordering="starts_at")
    def local_start(self, event: Event) -> str:
        return f"{timezone.localtime(event.starts_at, event.zone):%a %d %b %Y %H:%M}"

    @admin.display(description="Seats taken", ordering="seats_taken")
    def seats(self, event: Event) -> str:
        return f"{event.seats_taken}/{event.capacity}"

    @admin.display(description="Paid", ordering="paid_count")
    def paid(self, event: Event) -> int:
        return event.paid_count

    @admin.display(description="Waitlisted", ordering="waitlisted_count")
    def waitlisted(self, event: Event) -> int:
        return event.waitlisted_count

    @admin.display(description="At the door")
    def door_link(self, event: Event) -> str:
        if event.status == Event.Status.CANCELLED:
            return "—"
        url = reverse("admin:events_event_door", args=[event.pk])
        return format_html('<a href="{}">Check-in</a>', url)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/door/", wrap(self.door_view), name=f"{name}_door"),
            path(
                "<path:object_id>/registrations.csv",
                wrap(self.registrations_csv_view),
                name=f"{name}_registrations_csv",
            ),
            path("<path:object_id>/message/", wrap(self.message_view), name=f"{name}_message"),
            *super().get_urls(),
        ]

    def _event(self, request: HttpRequest, object_id: str, *, change: bool) -> Event:
        event = self.get_object(request, unquote(object_id))  # 404 outside his events
        allowed = self.has_change_permission if change else self.has_view_permission
        if not allowed(request, event):
            raise PermissionDenied
        return event

    def registrations_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return admin_views.registrations_csv(self._event(request, object_id, change=False))

    def door_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Check-in at the door: one tap (a POST) per man marks him arrived, or undoes it."""
        event = self._event(request, object_id, change=True)
        query = request.POST.get("q", "") if request.method == "POST" else request.GET.get("q", "")
        query = query[:100]
        if request.method == "POST":
            registration_id = request.POST.get("registration", "")
            anchor = ""
            if not registration_id.isdigit() or len(registration_id) > 12:
                self.message_user(request, admin_views.NOT_AT_THE_DOOR, messages.ERROR)
            else:
                try:
                    registration = admin_views.registration_mark_arrived(
                        event=event,
                        registration_id=int(registration_id),
                        arrived=request.POST.get("undo") != "yes",
                    )
                except ValueError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    name = registration.user.get_full_name()
                    done = (
                        f"Arrived: {name}." if registration.arrived_at else f"Not arrived: {name}."
                    )
                    self.message_user(request, done, messages.SUCCESS)
                    anchor = f"#r{registration.pk}"
            url = request.path + (f"?{urlencode({'q': query})}" if query else "")
            return HttpResponseRedirect(url + anchor)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Check-in: {event}",
            "opts": self.opts,
            "original": event,
            "registrations": admin_views.door_list(event, query),
            "counts": admin_views.counts(event),
            "query": query,
            "closed": event.status == Event.Status.CANCELLED,
        }
        return TemplateResponse(request, "admin/events/event/door.html", context)

    @admin.action(description="Message the men registered", permissions=["change"])
    def message_registrants(
        self, request: HttpRequest, queryset: QuerySet[Event]
    ) -> HttpResponse | None:
        # The queryset is already scoped: a forged id outside his events is not in it.
        events = list(queryset.values_list("pk", flat=True)[:2])
        if len(events) != 1:
            self.message_user(request, CHOOSE_ONE_EVENT, messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:events_event_message", args=[events[0]]))

    @admin.action(description="Cancel events", permissions=["change"])
    def cancel_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        """Ask first; then cancel each, tell every man registered once, refund each payment."""
        events = list(queryset.order_by("starts_at", "pk"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Cancel these events?",
                "opts": self.opts,
                "events": events,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/events/event/cancel_confirm.html", context)
        for event in events:
            if event.status == Event.Status.CANCELLED:
                self.message_user(request, f"{event}: already cancelled.", messages.WARNING)
                continue
            with transaction.atomic():
                # Told while their registrations are live; refunds follow the commit.
                told = event_messages.cancelled(event)
                payments.event_cancel(event=event)
            self.log_change(request, event, "Cancelled.")
            self.message_user(
                request,
                f"Cancelled: {event}. Its men are told ({told} message{'s' if told != 1 else ''}"
                " queued) and every payment is refunded.",
                messages.SUCCESS,
            )
        return None

    def message_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        event = self._event(request, object_id, change=True)
        form = BroadcastForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                queued = broadcasts.event_broadcast_send(
                    event=event,
                    sender=request.user,
                    title=data["title"],
                    text=data["text"],
                    channels=data["channels"],
                    key=data["key"],
                )
            except broadcasts.BroadcastError as error:
                form.add_error(None, error.message)
            else:
                done = broadcast_summary(queued, data["channels"])
                self.log_change(request, event, done)
                self.message_user(
                    request, f"{event}: {done}", messages.SUCCESS if queued else messages.WARNING
                )
                return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Message the men registered for {event}",
            "opts": self.opts,
            "original": event,
            "form": form,
            "recipients": len(broadcasts.recipients(event, sender=request.user)),
            "used": broadcasts.broadcasts_in_window(event),
            "limit": BROADCASTS_PER_WINDOW,
        }
        return TemplateResponse(request, "admin/events/event/message.html", context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Event | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["counts"] = admin_views.counts(obj)
            context["registrations_url"] = (
                reverse("admin:events_registration_changelist")
                + "?"
                + urlencode({"event__id__exact": obj.pk})
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


def broadcast_summary(queued: int, channels: list[str]) -> str:
    """What the organiser sees, and the admin history keeps, after "Send"."""
    if not queued:
        return "Nobody registered takes messages by the chosen channels: nothing was sent."
    names = " and ".join("SMS" if c == "sms" else "email" for c in channels)
    plural = "s" if queued != 1 else ""
    return f"Messaged the men registered: {queued} message{plural} queued by {names}."


# --- Registrations ----------------------------------------------------------------------


@admin.register(Registration)
class RegistrationAdmin(EventScopedAdmin):
    """Who is coming, with his answers, payment and check-in. Read-only: men register themselves."""

    list_display = (
        "member",
        "event",
        "status",
        "payment",
        "ticket",
        "answers_text",
        "arrived",
    )
    list_filter = (
        ("event", admin.RelatedOnlyFieldListFilter),
        "status",
        "payment",
        ("arrived_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("user", "event", "tier")
    search_fields = ("user__full_name", "user__display_name", "user__email")
    ordering = ("event__starts_at", "user__full_name", "pk")
    actions = [
        "mark_arrived",
        "mark_not_arrived",
        payment_admin.approve_free_place,
        payment_admin.decline_free_place,
    ]
    fields = (
        "event",
        "member",
        "status",
        "tier",
        "amount_cents",
        "payment",
        "free_place_reason",
        "answers_text",
        "created_at",
        "hold_expires_at",
        "offer_expires_at",
        "cancelled_at",
        "refunded_at",
        "arrived_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Registration]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("answers", queryset=Answer.objects.select_related("question"))
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a man registers himself, from the event's page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a registration is cancelled, never deleted, so payments stay traceable

    @admin.display(description="Member", ordering="user__full_name")
    def member(self, registration: Registration) -> str:
        return registration.user.get_full_name()

    @admin.display(description="Ticket", ordering="tier__position")
    def ticket(self, registration: Registration) -> str:
        return registration.tier.name if registration.tier else "—"

    @admin.display(description="Answers")
    def answers_text(self, registration: Registration) -> str:
        answers = registration.answers.all()
        if not answers:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "<strong>{}</strong>: {}",
            ((a.question.label, a.value) for a in answers),
        )

    @admin.display(description="Arrived", ordering="arrived_at", boolean=True)
    def arrived(self, registration: Registration) -> bool:
        return registration.arrived_at is not None

    def _mark(self, request: HttpRequest, queryset: QuerySet[Registration], arrived: bool) -> None:
        for registration in queryset.select_related("event", "user"):
            who = f"{registration.user.get_full_name()} ({registration.event})"
            try:
                admin_views.registration_mark_arrived(
                    event=registration.event, registration_id=registration.pk, arrived=arrived
                )
            except ValueError as error:
                self.message_user(request, f"{who}: {error}", messages.WARNING)
            else:
                state = "Arrived" if arrived else "Not arrived"
                self.message_user(request, f"{state}: {who}.", messages.SUCCESS)

    @admin.action(description="Mark arrived", permissions=["change"])
    def mark_arrived(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        self._mark(request, queryset, True)

    @admin.action(description="Mark not arrived (undo)", permissions=["change"])
    def mark_not_arrived(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        self._mark(request, queryset, False)
