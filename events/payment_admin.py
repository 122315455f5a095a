"""Admin actions for free places, for the registrations admin (events.admin) to list.

The registrations admin's queryset is already scoped to the events the
organiser runs; each action needs the change permission, and decides only
registrations that are waiting for a free-place decision (others are counted
and left alone).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from events import payments
from events.models import Registration


def _decide(request: HttpRequest, queryset: QuerySet[Registration], *, approve: bool) -> None:
    asked = list(queryset.filter(payment=Registration.Payment.FREE_PLACE_REQUESTED).order_by("pk"))
    decided, skipped = 0, queryset.count() - len(asked)
    for registration in asked:
        try:
            payments.free_place_decide(registration=registration, approve=approve)
        except payments.PaymentError:
            skipped += 1
        else:
            decided += 1
    verb = "granted" if approve else "declined"
    messages.success(request, f"{decided} free places {verb}.")
    if skipped:
        messages.warning(
            request, f"{skipped} registrations were not waiting for a free-place decision."
        )


@admin.action(description="Grant the free place asked for", permissions=["change"])
def approve_free_place(modeladmin, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
    _decide(request, queryset, approve=True)


@admin.action(description="Decline the free place asked for", permissions=["change"])
def decline_free_place(modeladmin, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
    _decide(request, queryset, approve=False)
