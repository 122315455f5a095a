"""Paying for a held seat: the pay page, Stripe Checkout, a free place, the page after paying.

Only the man whose registration it is reaches these pages; anyone else (and a
man with no registration for the event) gets a 404, which says nothing about
whether the event exists.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from billing import stripe_gateway
from events import payments
from events.models import Registration

CHECKOUT_CANCELLED = "You left the payment page before paying: nothing was charged."
FREE_PLACE_ASKED = "Thank you. The organisers will answer you; your seat is kept until then."
NO_LONGER_HELD = "Your seat is no longer held: register again to take a seat if one is free."
REFUNDED = "Your seat was no longer held when your payment arrived, so it is refunded in full."


class FreePlaceForm(forms.Form):
    reason = forms.CharField(
        label="Why (only the organisers read this)",
        max_length=payments.FREE_PLACE_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": payments.FREE_PLACE_REASON_MAX}),
        error_messages={
            "required": payments.REASON_NEEDED,
            "max_length": payments.REASON_TOO_LONG,
        },
    )


def _registration_or_404(request: HttpRequest, slug: str) -> Registration:
    """His registration for the event: the live one, else his last cancelled one."""
    registration = (
        Registration.objects.filter(event__slug=slug, user=request.user)
        .select_related("event", "tier")
        .order_by(
            Case(When(status=Registration.Status.CANCELLED, then=1), default=0),
            "-created_at",
            "-pk",
        )
        .first()
    )
    if registration is None:
        raise Http404
    return registration


def _sent_back(request: HttpRequest, registration: Registration) -> HttpResponse:
    """His hold lapsed (or he cancelled): back to the event, saying so."""
    refunded = registration.payment == Registration.Payment.REFUNDED
    messages.info(request, REFUNDED if refunded else NO_LONGER_HELD)
    return redirect(registration.event)


def _pay_page(
    request: HttpRequest, registration: Registration, form: FreePlaceForm, status: int = 200
) -> HttpResponse:
    context = {
        "registration": registration,
        "event": registration.event,
        "configured": stripe_gateway.is_configured(),
        "form": form,
        "checkout_cancelled": CHECKOUT_CANCELLED if request.GET.get("checkout") else None,
    }
    return render(request, "events/pay.html", context, status=status)


@login_required
@require_GET
def pay(request: HttpRequest, slug: str) -> HttpResponse:
    registration = _registration_or_404(request, slug)
    if registration.status == Registration.Status.CANCELLED:
        return _sent_back(request, registration)
    if registration.status != Registration.Status.HELD:
        return redirect(registration.event)
    return _pay_page(request, registration, FreePlaceForm())


@login_required
@require_POST
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    registration = _registration_or_404(request, slug)
    if registration.status == Registration.Status.CANCELLED:
        return _sent_back(request, registration)
    try:
        url = payments.checkout_start(registration=registration)
    except payments.PaymentError as error:
        messages.error(request, error.message)
        return redirect("events:pay", slug=slug)
    return redirect(url)


@login_required
@require_POST
def free_place(request: HttpRequest, slug: str) -> HttpResponse:
    registration = _registration_or_404(request, slug)
    if registration.status == Registration.Status.CANCELLED:
        return _sent_back(request, registration)
    form = FreePlaceForm(request.POST)
    if not form.is_valid():
        return _pay_page(request, registration, form, status=400)
    try:
        payments.free_place_request(registration=registration, reason=form.cleaned_data["reason"])
    except payments.PaymentError as error:
        messages.error(request, error.message)
        return redirect("events:pay", slug=slug)
    messages.success(request, FREE_PLACE_ASKED)
    return redirect(registration.event)


@login_required
@require_GET
def paid(request: HttpRequest, slug: str) -> HttpResponse:
    # Stripe's verified webhook, not this redirect from Checkout, confirms him.
    registration = _registration_or_404(request, slug)
    if registration.status == Registration.Status.CANCELLED:
        return _sent_back(request, registration)
    return render(
        request, "events/paid.html", {"registration": registration, "event": registration.event}
    )
