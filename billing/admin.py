"""Treasurers' admin: tiers, scholarships (with their private reasons), offline payments.

Only superusers and staff in the "Treasurers" group reach these pages;
facilitators see a member's dues status word, never amounts or reasons.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.admin_writes import ChangedFieldsOnly
from billing import services, stripe_gateway
from billing.models import DuesTier, OfflinePayment, Scholarship
from notifications.transport import TransportError

TREASURERS = "Treasurers"


def is_treasurer(user) -> bool:
    return user.is_active and (
        user.is_superuser or (user.is_staff and user.groups.filter(name=TREASURERS).exists())
    )


class TreasurerOnly:
    """Every permission, view included, needs the Treasurers group (or superuser)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_treasurer(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_treasurer(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_treasurer(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_treasurer(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


class DuesTierForm(forms.ModelForm):
    class Meta:
        model = DuesTier
        fields = (
            "name",
            "description",
            "amount_cents",
            "currency",
            "stripe_price_id",
            "covers_another",
            "is_active",
            "order",
        )

    def clean_stripe_price_id(self) -> str:
        price_id = self.cleaned_data["stripe_price_id"].strip()
        if not stripe_gateway.is_configured():
            return price_id  # checked when Stripe is set up (djstripe_sync_models)
        try:
            stripe_gateway.price_sync(price_id)
        except TransportError as error:
            raise forms.ValidationError(
                f"Stripe does not accept this price: {error.message}"
            ) from error
        return price_id


@admin.register(DuesTier)
class DuesTierAdmin(TreasurerOnly, admin.ModelAdmin):
    form = DuesTierForm
    list_display = ("name", "amount", "stripe_price_id", "covers_another", "is_active", "order")
    list_editable = ("is_active", "order")

    @admin.display(description="Amount")
    def amount(self, obj: DuesTier) -> str:
        return f"{obj.currency.upper()} {obj.amount_cents / 100:,.2f}/month"


class DecisionForm(forms.Form):
    until = forms.DateField(
        label="Approved until",
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=lambda: timezone.localdate() + timedelta(days=180),
    )


@admin.register(Scholarship)
class ScholarshipAdmin(ChangedFieldsOnly, TreasurerOnly, admin.ModelAdmin):
    list_display = ("user", "kind", "status", "until", "requested_at", "decided_by")
    list_filter = ("status", "kind")
    search_fields = ("user__email", "user__full_name")
    readonly_fields = (
        "user",
        "kind",
        "reason",
        "status",
        "until",
        "requested_at",
        "decided_at",
        "decided_by",
    )
    actions = ["approve", "decline"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members ask; treasurers decide

    @admin.action(description="Approve the selected requests")
    def approve(self, request: HttpRequest, queryset: QuerySet[Scholarship]) -> HttpResponse | None:
        form = DecisionForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "form": form,
                "scholarships": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
                "title": "Approve scholarships",
            }
            return render(request, "admin/billing/scholarship/approve.html", context)
        self._decide(request, queryset, approve=True, until=form.cleaned_data["until"])
        return None

    @admin.action(description="Decline the selected requests")
    def decline(self, request: HttpRequest, queryset: QuerySet[Scholarship]) -> None:
        self._decide(request, queryset, approve=False, until=None)

    def _decide(self, request, queryset, *, approve: bool, until) -> None:
        for scholarship in queryset:
            try:
                services.scholarship_decide(
                    scholarship=scholarship, by=request.user, approve=approve, until=until
                )
            except services.BillingError as error:
                self.message_user(request, f"{scholarship}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"Decided: {scholarship}.", messages.SUCCESS)


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's, but a sent value that cannot be an id is shown as no choice.

    Redisplaying a form with errors, Django's widget looks the sent value up
    with ``pk__in=[value]``: a value like "abc" raised ValueError, a 500.
    """

    def optgroups(self, name: str, value: list, attr=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if _could_be(target, v)], attr)


def _could_be(field, value) -> bool:
    try:
        key = field.to_python(value)
    except ValidationError:
        return False
    return not isinstance(key, int) or -(2**63) <= key < 2**63


@admin.register(OfflinePayment)
class OfflinePaymentAdmin(ChangedFieldsOnly, TreasurerOnly, admin.ModelAdmin):
    list_display = ("user", "amount", "method", "covers_from", "covers_until", "recorded_by")
    list_filter = ("method",)
    search_fields = ("user__email", "user__full_name")
    autocomplete_fields = ("user",)
    exclude = ("recorded_by",)

    @admin.display(description="Amount")
    def amount(self, obj: OfflinePayment) -> str:
        return f"{obj.currency.upper()} {obj.amount_cents / 100:,.2f}"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
