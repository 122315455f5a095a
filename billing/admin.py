"""Treasurers' admin: tiers, scholarships (with their private reasons), offline payments.

Only superusers and staff in the "Treasurers" group reach these pages;
facilitators see a member's dues status word, never amounts or reasons.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from uuid import uuid4

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
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


STRIPE_OFF = (
    "Stripe is not set up on this site: enter the id of a recurring price made in Stripe "
    "(price_...)."
)


class DuesTierForm(forms.ModelForm):
    """A tier and its Stripe price: an existing one by id, or a new one made from the form."""

    # One key per form shown: sent twice, it makes one Stripe price.
    key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput, required=False)

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

        help_texts = {
            "stripe_price_id": "Leave it empty to make a new monthly price in Stripe from "
            "the name, amount and currency; or enter a recurring price made in Stripe "
            "(price_...).",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].initial = uuid4().hex
        self.fields["stripe_price_id"].required = False

    def clean_stripe_price_id(self) -> str:
        price_id = self.cleaned_data["stripe_price_id"].strip()
        if not price_id:
            if not stripe_gateway.is_configured():
                raise forms.ValidationError(STRIPE_OFF)
            return price_id  # made in clean(), once the rest of the form is right
        if not stripe_gateway.is_configured():
            return price_id  # checked when Stripe is set up (djstripe_sync_models)
        try:
            stripe_gateway.price_sync(price_id)
        except TransportError as error:
            raise forms.ValidationError(
                f"Stripe does not accept this price: {error.message}"
            ) from error
        return price_id

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors or cleaned.get("stripe_price_id"):
            return cleaned
        wanted = {
            "name": cleaned["name"],
            "amount_cents": cleaned["amount_cents"],
            "currency": cleaned["currency"].lower(),
        }
        # The same form sent twice is one price; corrected and sent again, a new one
        # (Stripe refuses a key used before with other parameters).
        what = hashlib.sha256(repr(sorted(wanted.items())).encode()).hexdigest()[:16]
        try:
            price = stripe_gateway.price_create(
                **wanted, idempotency_key=f"dues-tier-{cleaned.get('key') or uuid4().hex}-{what}"
            )
        except TransportError as error:
            raise forms.ValidationError(
                f"Stripe did not make the price: {error.message}"
            ) from error
        cleaned["stripe_price_id"] = price.id
        self.instance.stripe_price_id = price.id
        return cleaned


@admin.register(DuesTier)
class DuesTierAdmin(TreasurerOnly, admin.ModelAdmin):
    form = DuesTierForm
    list_display = ("name", "amount", "stripe_price_id", "covers_another", "is_active", "order")
    list_editable = ("is_active", "order")

    def get_changelist_formset(self, request: HttpRequest, **kwargs):
        formset = super().get_changelist_formset(request, **kwargs)

        class LabelledFormSet(formset):
            """Each row's boxes named for the tier: the column heading is no label."""

            def add_fields(self, form, index) -> None:
                super().add_fields(form, index)
                for name in DuesTierAdmin.list_editable:
                    field = form.fields[name]
                    label = f"{field.label or name} of {form.instance.name}"
                    field.widget.attrs["aria-label"] = label

        return LabelledFormSet

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
    """Django's, but a sent value that cannot be an id is shown as no choice,
    and the box is named after its label (static/js/admin-autocomplete.js).

    Redisplaying a form with errors, Django's widget looks the sent value up
    with ``pk__in=[value]``: a value like "abc" raised ValueError, a 500.
    """

    @property
    def media(self) -> forms.Media:
        return super().media + forms.Media(js=["js/admin-autocomplete.js"])

    # Treasurers' own search (TreasurerMemberSearch), not the
    # admin's: that one asks for the right to view every user's account.
    url_name = "%s:billing_offlinepayment_member_search"

    def optgroups(self, name: str, value: list, attr=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if _could_be(target, v)], attr)


def _could_be(field, value) -> bool:
    try:
        key = field.to_python(value)
    except ValidationError:
        return False
    return not isinstance(key, int) or -(2**63) <= key < 2**63


class TreasurerMemberSearch(AutocompleteJsonView):
    """The payment form's member search: names and emails, for treasurers only.

    Django's own autocomplete needs "view user", which would open every
    account's page to treasurers; this answers the one field it serves.
    """

    def has_perm(self, request: HttpRequest, obj=None) -> bool:
        return is_treasurer(request.user)

    def process_request(self, request: HttpRequest):
        term, model_admin, source_field, to_field_name = super().process_request(request)
        if source_field is not OfflinePayment._meta.get_field("user"):
            raise PermissionDenied
        return term, model_admin, source_field, to_field_name


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

    def get_urls(self) -> list[URLPattern]:
        view = TreasurerMemberSearch.as_view(admin_site=self.admin_site)
        return [
            path(
                "member-search/",
                self.admin_site.admin_view(view),
                name="billing_offlinepayment_member_search",
            ),
            *super().get_urls(),
        ]

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
