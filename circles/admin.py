"""The facilitator admin: each facilitator sees and edits only the circles he runs.

A facilitator is a staff user in the "Facilitators" group (model permissions,
see migration 0002) with an active facilitator or co-facilitator membership.
Scope is enforced in the data, not the links: every queryset, object
permission and foreign-key choice is limited to his circles, and an object
outside them answers 404 by any URL. Superusers see everything.

Writes that matter go through circles.services; the admin only calls them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.admin_writes import ChangedFieldsOnly
from accounts.models import User
from circles import admin_requests, admin_views, attendance, broadcasts, services
from circles.models import (
    Agreement,
    Attendance,
    Circle,
    FacilitatorNote,
    Meeting,
    Membership,
)
from circles.services import CircleError

CHOOSE_ONE_CIRCLE = "Choose one of your circles to message."

# --- Scope ------------------------------------------------------------------------------


def facilitated_circle_ids(request: HttpRequest) -> list[int] | None:
    """The circles this user runs, or None for every circle (superusers).

    Asked once per request: object checks and form choices reuse the answer.
    """
    if request.user.is_superuser:
        return None
    if not hasattr(request, "_facilitated_circle_ids"):
        request._facilitated_circle_ids = list(
            Membership.objects.facilitating()
            .filter(user_id=request.user.pk)
            .values_list("circle_id", flat=True)
        )
    return request._facilitated_circle_ids


def scoped_circles(request: HttpRequest) -> QuerySet[Circle]:
    ids = facilitated_circle_ids(request)
    return Circle.objects.all() if ids is None else Circle.objects.filter(pk__in=ids)


def in_scope(request: HttpRequest, circle_id: int | None) -> bool:
    ids = facilitated_circle_ids(request)
    return ids is None or circle_id in ids


class NotFoundOutsideScope:
    """An object the user may not see answers 404, whether or not it exists.

    Django's admin redirects to the index for a missing object; a 404 says the
    same thing without a page load and reads plainly in access-control tests.
    """

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj


class CircleScopedAdmin(ChangedFieldsOnly, NotFoundOutsideScope, admin.ModelAdmin):
    """A model reached through `circle`: rows, object permissions and choices scoped."""

    circle_lookup = "circle"

    def circle_id_of(self, obj: models.Model) -> int:
        return obj.circle_id

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        ids = facilitated_circle_ids(request)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.circle_lookup}__in": ids})

    def _obj_in_scope(self, request: HttpRequest, obj: models.Model | None) -> bool:
        return obj is None or in_scope(request, self.circle_id_of(obj))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._obj_in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._obj_in_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._obj_in_scope(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.related_model is Circle:
            kwargs["queryset"] = scoped_circles(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _report(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    memberships: QuerySet[Membership],
    service: Any,
    done: str,
) -> None:
    """Run a membership service on each row; one message per row, success or why not."""
    for membership in memberships.select_related("user", "circle"):
        who = f"{membership.user.get_full_name()} ({membership.circle})"
        try:
            service(membership=membership)
        except CircleError as error:
            modeladmin.message_user(request, f"{who}: {error.message}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{done}: {who}.", messages.SUCCESS)


# --- Circles ----------------------------------------------------------------------------


class AgreementInline(admin.TabularInline):
    """Published versions, read-only: a new version goes through the Agreement admin."""

    model = Agreement
    fields = ("version", "text", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def bio_field(seat: Membership) -> forms.CharField:
    return forms.CharField(
        label="Your bio",
        required=False,
        max_length=Membership._meta.get_field("bio").max_length,
        initial=seat.bio,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A few words about you as this circle's facilitator, shown on its page.",
    )


@admin.register(Circle)
class CircleAdmin(CircleScopedAdmin):
    circle_lookup = "pk"
    list_display = ("name", "status", "schedule", "seats", "is_listed")
    list_filter = ("status", "is_listed")
    search_fields = ("name", "slug")
    # Explicit: the autocomplete pages it.
    ordering = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [AgreementInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Extends admin/circles/circle/change_form.html with a "Message this circle" link.
    change_form_template = "admin/circles/circle_change_form.html"
    actions = ["message_circle"]

    def circle_id_of(self, obj: Circle) -> int:
        return obj.pk

    def get_queryset(self, request: HttpRequest) -> QuerySet[Circle]:
        return super().get_queryset(request).with_seats_held()

    def save_model(self, request: HttpRequest, obj: Circle, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "my_bio" in form.changed_data:
            seat = self._own_seat(request, obj)
            if seat is not None:
                seat.bio = form.cleaned_data["my_bio"]
                seat.save(update_fields=["bio"])
        if change and {"capacity", "status"} & set(form.changed_data):
            # Seats added (or the circle opened): the waitlist has them first, and
            # open/full follows the seats held again.
            services.seat_offer_next(circle=obj)

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict:
        return self.prepopulated_fields if request.user.is_superuser else {}

    @staticmethod
    def _own_seat(request: HttpRequest, circle: Circle | None) -> Membership | None:
        """His own facilitating membership of this circle: where his bio lives."""
        if circle is None or circle.pk is None:
            return None
        return (
            Membership.objects.facilitating().filter(circle=circle, user_id=request.user.pk).first()
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        seat = self._own_seat(request, obj)
        if seat is not None:
            # A field of the form, not of the circle: each facilitator writes his own.
            kwargs["form"] = type(
                "CircleFormWithBio", (kwargs.get("form", self.form),), {"my_bio": bio_field(seat)}
            )
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The slug is the circle's public address: only superusers move it.
        return () if request.user.is_superuser else ("slug",)

    # Facilitators run circles; only superusers open or close the books on one.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="Schedule")
    def schedule(self, circle: Circle) -> str:
        return circle.schedule_text()

    @admin.display(description="Seats taken", ordering="seats_held")
    def seats(self, circle: Circle) -> str:
        return f"{circle.seats_held}/{circle.capacity}"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("at-risk/", wrap(self.at_risk_view), name=f"{name}_at_risk"),
            path("<path:object_id>/message/", wrap(self.message_view), name=f"{name}_message"),
            path(
                "<path:object_id>/attendance.csv",
                wrap(self.attendance_csv_view),
                name=f"{name}_attendance_csv",
            ),
            path("<path:object_id>/roster/", wrap(self.roster_view), name=f"{name}_roster"),
            path(
                "<path:object_id>/attendance.svg",
                wrap(self.attendance_svg_view),
                name=f"{name}_attendance_svg",
            ),
            *super().get_urls(),
        ]

    def _viewable_circle(self, request: HttpRequest, object_id: str) -> Circle:
        circle = self.get_object(request, unquote(object_id))  # 404 outside his circles
        if not self.has_view_permission(request, circle):
            raise PermissionDenied
        return circle

    def at_risk_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "At risk",
            "opts": self.opts,
            "report": admin_views.at_risk(scoped_circles(request).order_by("name")),
            "lookback": admin_views.LOOKBACK,
            "misses": admin_views.MISSES,
            "waiting_days": admin_views.WAITING_DAYS,
        }
        return TemplateResponse(request, "admin/circles/circle/at_risk.html", context)

    @admin.action(description="Message this circle", permissions=["change"])
    def message_circle(
        self, request: HttpRequest, queryset: QuerySet[Circle]
    ) -> HttpResponse | None:
        # The queryset is already scoped: a forged id outside his circles is not in it.
        circles = list(queryset.values_list("pk", flat=True)[:2])
        if len(circles) != 1:
            self.message_user(request, CHOOSE_ONE_CIRCLE, messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:circles_circle_message", args=[circles[0]]))

    def message_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        circle = self.get_object(request, unquote(object_id))  # 404 outside his circles
        if not self.has_change_permission(request, circle):
            raise PermissionDenied
        form = admin_views.BroadcastForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                queued = broadcasts.broadcast_send(
                    circle=circle,
                    sender=request.user,
                    title=data["title"],
                    text=data["text"],
                    channels=data["channels"],
                    key=data["key"],
                )
            except CircleError as error:
                form.add_error(None, error.message)
            else:
                done = admin_views.broadcast_summary(queued, data["channels"])
                self.log_change(request, circle, done)
                self.message_user(
                    request, f"{circle}: {done}", messages.SUCCESS if queued else messages.WARNING
                )
                return HttpResponseRedirect(
                    reverse("admin:circles_circle_change", args=[circle.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Message {circle.name}",
            "opts": self.opts,
            "original": circle,
            "form": form,
            "recipients": len(broadcasts.recipients(circle, sender=request.user)),
            "used": broadcasts.broadcasts_in_window(circle),
            "limit": broadcasts.BROADCASTS_PER_WINDOW,
        }
        return TemplateResponse(request, "admin/circles/broadcast.html", context)

    def roster_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The circle's members on one printable page; contact details only as each shares."""
        circle = self._viewable_circle(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roster: {circle.name}",
            "opts": self.opts,
            "original": circle,
            "members": attendance.roster(circle),
            "printed_on": timezone.localdate(timezone=circle.zone),
        }
        return TemplateResponse(request, "admin/circles/circle/roster.html", context)

    def attendance_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return admin_views.attendance_csv(self._viewable_circle(request, object_id))

    def attendance_svg_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return admin_views.attendance_chart_response(self._viewable_circle(request, object_id))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Circle | None = None,
    ) -> HttpResponse:
        if obj is not None:
            points = admin_views.attendance_points(obj)
            # Built from escaped parts only (see admin_views.attendance_chart_svg).
            chart = admin_views.attendance_chart_svg(obj, points)
            context["attendance_chart"] = mark_safe(chart)  # noqa: S308
            context["attendance_points"] = points
            context["attendance_summary"] = admin_views.attendance_summary(obj, points)
            context["recent_meetings"] = attendance.recent_meetings(obj)
            if request.user.has_perm("circles.add_agreement"):
                context["publish_agreement_url"] = (
                    reverse("admin:circles_agreement_add") + f"?circle={obj.pk}"
                )
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- Memberships ------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(CircleScopedAdmin):
    list_display = (
        "member",
        "circle",
        "role",
        "status",
        "requested_at",
        "offer_expires_at",
        "answer_link",
    )
    list_filter = ("status", ("circle", admin.RelatedOnlyFieldListFilter), "role")
    list_select_related = ("user", "circle")
    search_fields = ("user__full_name", "user__display_name", "user__email")
    ordering = ("circle__name", "status", "requested_at")
    actions = ["approve", "decline", "offer_seats", "remove", "make_co_facilitator"]
    # Who holds a seat changes only through the actions (circles.services); the
    # role only through services.membership_role_set (see get_readonly_fields).
    decided_fields = (
        "circle",
        "user",
        "status",
        "requested_at",
        "decided_at",
        "joined_at",
        "left_at",
        "offer_expires_at",
        "share_email",
        "share_phone",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # A facilitator never edits a role by hand: a lead uses "Make co-facilitator".
        return self.decided_fields if request.user.is_superuser else (*self.decided_fields, "role")

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change and "role" in form.changed_data:
            services.membership_role_set(membership=obj, role=obj.role, by=request.user)
            return
        super().save_model(request, obj, form, change)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CircleError as error:
            # Refused by the service (e.g. the circle's last lead): the admin's
            # transaction is rolled back, nothing changed.
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.display(description="Member", ordering="user__full_name")
    def member(self, membership: Membership) -> str:
        return membership.user.get_full_name()

    @admin.display(description="Request")
    def answer_link(self, membership: Membership) -> str:
        if membership.status not in services.PENDING:
            return ""
        url = reverse("admin:circles_membership_answer", args=[membership.pk])
        return format_html('<a href="{}">Read and answer</a>', url)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/answer/", wrap(self.answer_view), name=f"{name}_answer"),
            *super().get_urls(),
        ]

    def answer_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A join request's page: his introduction, his wait, and the three answers."""
        membership = self.get_object(request, unquote(object_id))  # 404 outside his circles
        if not self.has_change_permission(request, membership):
            raise PermissionDenied
        is_pending = membership.status in services.PENDING
        form = admin_requests.AnswerForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and not is_pending:
            self.message_user(request, services.NOT_PENDING, messages.ERROR)
        elif form.is_valid():
            outcome = admin_requests.answer(
                membership=membership,
                decision=form.cleaned_data["decision"],
                message=form.cleaned_data["message"],
            )
            self.message_user(request, outcome.text, getattr(messages, outcome.level.upper()))
            if outcome.level != "error":
                self.log_change(request, membership, outcome.text)
                return HttpResponseRedirect(request.get_full_path())
        membership.refresh_from_db()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Join request: {membership.user.get_full_name()}",
            "opts": self.opts,
            "original": membership,
            "membership": membership,
            "form": form,
            "pending": membership.status in services.PENDING,
            "waited_days": admin_requests.waited(membership),
            "answer_days": services.ANSWER_DAYS,
        }
        return TemplateResponse(request, "admin/circles/membership/answer.html", context)

    @admin.action(description="Approve join requests", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        _report(self, request, queryset, services.membership_approve, "Approved")

    @admin.action(description="Decline join requests", permissions=["change"])
    def decline(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        _report(self, request, queryset, services.membership_decline, "Declined")

    @admin.action(description="Remove from circle", permissions=["change"])
    def remove(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        remove = partial(services.membership_remove, by=request.user)
        _report(self, request, queryset, remove, "Removed")

    def has_make_co_facilitator_permission(self, request: HttpRequest) -> bool:
        """Superusers, and lead facilitators (the service checks he leads that row's circle)."""
        return self.has_change_permission(request) and (
            request.user.is_superuser
            or Membership.objects.active()
            .filter(user_id=request.user.pk, role=Membership.Role.FACILITATOR)
            .exists()
        )

    @admin.action(description="Make co-facilitator", permissions=["make_co_facilitator"])
    def make_co_facilitator(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> HttpResponse | None:
        """Ask first (a co-facilitator sees the circle's admin); then promote each row."""
        memberships = queryset.select_related("user", "circle")
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Make co-facilitator?",
                "opts": self.opts,
                "memberships": memberships,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/circles/membership/make_co_facilitator.html", context
            )
        for membership in memberships:
            who = f"{membership.user.get_full_name()} ({membership.circle})"
            try:
                services.membership_role_set(
                    membership=membership, role=Membership.Role.CO_FACILITATOR, by=request.user
                )
            except CircleError as error:
                self.message_user(request, f"{who}: {error.message}", messages.ERROR)
            else:
                self.log_change(request, membership, "Made co-facilitator.")
                self.message_user(request, f"Made co-facilitator: {who}.", messages.SUCCESS)
        return None

    @admin.action(description="Offer a seat from the waitlist", permissions=["change"])
    def offer_seats(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        """Offer each free seat in the selected rows' circles to the next man waiting."""
        circle_ids = set(queryset.values_list("circle_id", flat=True))
        for circle in Circle.objects.filter(pk__in=circle_ids).order_by("pk"):
            offered = services.seat_offer_next(circle=circle)  # it locks the circle
            names = ", ".join(m.user.get_full_name() for m in offered)
            if offered:
                self.message_user(request, f"{circle}: seat offered to {names}.", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{circle}: no seat to offer (no free seat, or nobody waiting).",
                    messages.WARNING,
                )


# --- Agreements -------------------------------------------------------------------------


@admin.register(Agreement)
class AgreementAdmin(CircleScopedAdmin):
    """Publish-only: a new version through services.agreement_publish, old ones read-only."""

    list_display = ("circle", "version", "created_at")
    list_filter = (("circle", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("circle",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("circle", "text") if obj is None else ("circle", "version", "text", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else ("circle", "version", "text", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Members accepted exactly this text.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Agreement, form: Any, change: bool) -> None:
        published = services.agreement_publish(circle=obj.circle, text=obj.text)
        obj.pk, obj.version, obj.created_at = published.pk, published.version, published.created_at


# --- Meetings and attendance ------------------------------------------------------------


class AttendanceInline(admin.TabularInline):
    """The meeting's rows, one dropdown each; the attendance grid is the quicker way."""

    model = Attendance
    formset = admin_views.AttendanceFormSet
    fields = ("user", "status")
    extra = 0
    verbose_name_plural = "attendance"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attendance]:
        return (
            super()
            .get_queryset(request)
            .select_related("user", "meeting__circle")
            .order_by("user__full_name", "pk")
        )

    def _meeting_in_scope(self, request: HttpRequest, obj: Meeting | None) -> bool:
        return obj is None or in_scope(request, obj.circle_id)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._meeting_in_scope(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._meeting_in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._meeting_in_scope(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._meeting_in_scope(request, obj)

    def get_formset(self, request: HttpRequest, obj: Meeting | None = None, **kwargs: Any):
        # The member choices depend on the meeting: hand it down to the field builder.
        kwargs["formfield_callback"] = partial(
            self.formfield_for_dbfield, request=request, meeting=obj
        )
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_dbfield(
        self, db_field: Any, request: HttpRequest, meeting: Meeting | None = None, **kwargs: Any
    ):
        if db_field.name == "user":
            kwargs["meeting"] = meeting
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, meeting: Meeting | None = None, **kwargs: Any
    ):
        if db_field.name != "user":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        # The men who were members when it started (rows of men who left since
        # stay valid), and whoever already has a row, so a wrong one can be seen.
        members = (
            User.objects.filter(
                Q(
                    memberships__in=Membership.objects.filter(
                        circle_id=meeting.circle_id
                    ).in_circle_at(meeting.starts_at)
                )
                | Q(attendance__meeting=meeting)
            ).distinct()
            if meeting is not None
            else User.objects.none()
        ).order_by("full_name", "email")
        kwargs["queryset"] = members
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Evaluated once here, not once per row's <select>.
        formfield.choices = [("", "---------"), *((u.pk, u.get_full_name()) for u in members)]
        return formfield


@admin.register(Meeting)
class MeetingAdmin(CircleScopedAdmin):
    form = admin_views.MeetingAdminForm
    list_display = ("local_start", "circle", "status", "leader_name", "note", "attendance_link")
    list_filter = ("status", ("circle", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("circle", "leader")
    ordering = ("-starts_at",)
    actions = ["cancel", "reinstate"]
    inlines = [AttendanceInline]
    # Adds "who's coming" by name and a link to the attendance grid.
    change_form_template = "admin/circles/meeting/change_form.html"

    def save_model(self, request: HttpRequest, obj: Meeting, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if (not change or "starts_at" in form.changed_data) and services.meeting_added(meeting=obj):
            self.message_user(
                request,
                f"{obj}: outside the circle's regular days or times, so its members are told.",
                messages.INFO,
            )

    @admin.display(description="Starts (circle's time)", ordering="starts_at")
    def local_start(self, meeting: Meeting) -> str:
        return f"{timezone.localtime(meeting.starts_at, meeting.circle.zone):%a %d %b %Y %H:%M}"

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list:
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "leader":
            members = User.objects.filter(
                memberships__status=Membership.Status.ACTIVE,
                memberships__circle__in=scoped_circles(request),
            )
            kwargs["queryset"] = members.distinct().order_by("full_name", "email")
            formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
            # Names, not email addresses.
            formfield.label_from_instance = User.get_full_name
            return formfield
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/attendance/",
                wrap(self.attendance_view),
                name=f"{name}_attendance",
            ),
            path(
                "<path:object_id>/reinstate/",
                wrap(self.reinstate_view),
                name=f"{name}_reinstate",
            ),
            *super().get_urls(),
        ]

    def reinstate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One cancelled meeting put back on: the GET asks, the POST reinstates."""
        meeting = self.get_object(request, unquote(object_id))  # 404 outside his circles
        if not self.has_change_permission(request, meeting):
            raise PermissionDenied
        change_url = reverse("admin:circles_meeting_change", args=[meeting.pk])
        if request.method == "POST":
            try:
                services.meeting_reinstate(meeting=meeting)
            except CircleError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.log_change(request, meeting, "Reinstated.")
                self.message_user(request, f"On again: {meeting}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Put this meeting back on?",
            "opts": self.opts,
            "original": meeting,
            "can_reinstate": services.meeting_can_reinstate(meeting),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/circles/meeting/reinstate_confirm.html", context)

    def attendance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One page per meeting: a tap per man, one save (circles.attendance)."""
        meeting = self.get_object(request, unquote(object_id))  # 404 outside his circles
        if not self.has_change_permission(request, meeting):
            raise PermissionDenied
        posted = request.POST if request.method == "POST" else None
        form = attendance.AttendanceGridForm(meeting, posted)
        if posted is not None and form.is_valid():
            try:
                written, removed = attendance.attendance_save(
                    meeting=meeting, marks=form.marks(), remove=form.removals()
                )
            except CircleError as error:
                form.add_error(None, error.message)
            else:
                done = attendance.saved_summary(written, removed, len(form.memberships))
                self.log_change(request, meeting, done)
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Attendance: {meeting}",
            "opts": self.opts,
            "original": meeting,
            "form": form,
            "can_save": attendance.can_take(meeting),
        }
        return TemplateResponse(request, "admin/circles/meeting/attendance.html", context)

    @admin.display(description="Attendance")
    def attendance_link(self, meeting: Meeting) -> str:
        if not attendance.can_take(meeting):
            return "—"
        url = reverse("admin:circles_meeting_attendance", args=[meeting.pk])
        return format_html('<a href="{}">Take attendance</a>', url)

    @admin.display(description="Leader", ordering="leader__full_name")
    def leader_name(self, meeting: Meeting) -> str:
        return meeting.leader.get_full_name() if meeting.leader else "—"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Meeting | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["whos_coming"] = attendance.whos_coming(obj)
            context["can_take_attendance"] = attendance.can_take(obj)
            context["can_reinstate"] = services.meeting_can_reinstate(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Cancel meetings", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> HttpResponse | None:
        """Ask first, with the reason the members will read; then cancel each scheduled one."""
        meetings = list(queryset.select_related("circle"))
        posted = request.POST.get("post") == "yes"
        form = admin_views.CancelMeetingsForm(request.POST if posted else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Cancel these meetings?",
                "opts": self.opts,
                "meetings": meetings,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request,
                "admin/circles/meeting/cancel_confirm.html",
                context,
                status=400 if posted else 200,
            )
        for meeting in meetings:
            if meeting.status != Meeting.Status.SCHEDULED:
                self.message_user(
                    request,
                    f"{meeting}: not cancelled, it is {meeting.get_status_display().lower()}.",
                    messages.WARNING,
                )
                continue
            try:
                services.meeting_cancel(meeting=meeting, reason=form.cleaned_data["reason"])
            except CircleError as error:
                self.message_user(request, f"{meeting}: {error.message}", messages.ERROR)
            else:
                self.log_change(request, meeting, "Cancelled.")
                self.message_user(request, f"Cancelled: {meeting}.", messages.SUCCESS)
        return None

    @admin.action(description="Reinstate cancelled meetings", permissions=["change"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> None:
        """Undo a cancellation before the meeting starts; the members are told it is on."""
        for meeting in queryset.select_related("circle"):
            try:
                services.meeting_reinstate(meeting=meeting)
            except CircleError as error:
                self.message_user(request, f"{meeting}: {error.message}", messages.WARNING)
            else:
                self.log_change(request, meeting, "Reinstated.")
                self.message_user(request, f"On again: {meeting}.", messages.SUCCESS)


# --- Facilitator notes (credentials database) -------------------------------------------


@admin.register(FacilitatorNote)
class FacilitatorNoteAdmin(NotFoundOutsideScope, admin.ModelAdmin):
    """A facilitator's own notes only; superusers read all."""

    form = admin_views.FacilitatorNoteForm
    fields = ("circle", "member", "text")
    list_display = ("created_at", "circle_name", "member_name", "excerpt")

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if request.user.is_superuser:
            return (*self.list_display, "author_name")
        return self.list_display

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return admin_views.NoteChangeList

    def get_queryset(self, request: HttpRequest) -> QuerySet[FacilitatorNote]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(author_id=request.user.pk)

    def _mine(self, request: HttpRequest, obj: FacilitatorNote | None) -> bool:
        return obj is None or request.user.is_superuser or obj.author_id == request.user.pk

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._mine(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._mine(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._mine(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        return admin_views.note_form_for(form, scoped_circles(request), author=request.user)

    def save_model(
        self, request: HttpRequest, obj: FacilitatorNote, form: Any, change: bool
    ) -> None:
        if not change:
            obj.author_id = request.user.pk
        obj.circle_id = form.cleaned_data["circle"]
        obj.member_id = form.cleaned_data["member"]
        obj.save()

    @admin.display(description="Circle")
    def circle_name(self, note: FacilitatorNote) -> str:
        return admin_views.name_of(getattr(note, "circle", None))

    @admin.display(description="Member")
    def member_name(self, note: FacilitatorNote) -> str:
        return admin_views.name_of(getattr(note, "member", None))

    @admin.display(description="Author")
    def author_name(self, note: FacilitatorNote) -> str:
        return admin_views.name_of(getattr(note, "author", None))

    @admin.display(description="Note")
    def excerpt(self, note: FacilitatorNote) -> str:
        text = " ".join(note.text.split())
        return text if len(text) <= 80 else f"{text[:79]}…"
