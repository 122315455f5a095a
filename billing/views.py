from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import erasure, selectors, services, stripe_gateway
from billing.forms import ScholarshipForm
from billing.models import DuesTier
from notifications.transport import TransportError

logger = logging.getLogger("mensc.billing")
# Said where a man would pay: how to pay instead, not which vendor is missing.
NOT_CONFIGURED = "Paying online is not offered here: ask your facilitator how to pay your dues."
STRIPE_DOWN = "Payments are unavailable right now. Please try again in a few minutes."
CHECKOUT_CANCELLED = "You left the payment page before paying: nothing was charged."


def _overview(request: HttpRequest, form: ScholarshipForm, status: int = 200) -> HttpResponse:
    tiers = list(selectors.dues_tiers())
    dues = selectors.dues_status(request.user)
    context = {
        "status": dues,
        "summary": selectors.dues_summary(dues, tiers_offered=bool(tiers)),
        "tiers": tiers,
        # What a reduction reduces from: the least the sliding scale asks.
        "lowest": min(tiers, key=lambda tier: tier.amount_cents, default=None),
        "invoices": list(selectors.invoices_of(request.user)[:24]),
        "configured": stripe_gateway.is_configured(),
        "form": form,
        # Stripe's Checkout sends a man who cancels back here (see `checkout`).
        "checkout_cancelled": CHECKOUT_CANCELLED
        if request.GET.get("checkout") == "cancelled"
        else None,
    }
    return render(request, "billing/overview.html", context, status=status)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    return _overview(request, ScholarshipForm())


@login_required
@require_POST
def checkout(request: HttpRequest, tier_id: int) -> HttpResponse:
    tier = get_object_or_404(DuesTier, pk=tier_id, is_active=True)
    if not stripe_gateway.is_configured():
        messages.error(request, NOT_CONFIGURED)
        return redirect("billing:overview")
    try:
        url = stripe_gateway.checkout_url(
            user=request.user,
            tier=tier,
            success_url=settings.SITE_URL + reverse("billing:success"),
            cancel_url=settings.SITE_URL + reverse("billing:overview") + "?checkout=cancelled",
        )
    except TransportError as error:
        logger.warning("checkout failed: %s", error.message)
        messages.error(request, STRIPE_DOWN)
        return redirect("billing:overview")
    return redirect(url)


@login_required
@require_GET
def success(request: HttpRequest) -> HttpResponse:
    # Stripe's webhook, not this redirect, is what makes dues active.
    return render(request, "billing/success.html", {"status": selectors.dues_status(request.user)})


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    if not stripe_gateway.is_configured():
        messages.error(request, NOT_CONFIGURED)
        return redirect("billing:overview")
    try:
        url = stripe_gateway.portal_url(
            user=request.user, return_url=settings.SITE_URL + reverse("billing:overview")
        )
    except TransportError as error:
        logger.warning("portal failed: %s", error.message)
        messages.error(request, STRIPE_DOWN)
        return redirect("billing:overview")
    return redirect(url)


@login_required
@require_POST
def scholarship(request: HttpRequest) -> HttpResponse:
    form = ScholarshipForm(request.POST)
    if form.is_valid():
        try:
            services.scholarship_request(user=request.user, **form.cleaned_data)
        except services.BillingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Thank you. A treasurer will answer you in confidence.")
        return redirect("billing:overview")
    return _overview(request, form, status=400)


@csrf_exempt
@require_http_methods(["POST"])
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events: verified with our secret, then processed by dj-stripe, once."""
    try:
        data = stripe_gateway.verify_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.WebhookError as error:
        return JsonResponse({"error": str(error)}, status=400)
    try:
        stripe_gateway.process_event(data)
    except TransportError:
        # Stripe could not be asked about a related object: nothing was kept
        # (dj-stripe rolls back), and a 503 makes Stripe send the event again.
        logger.warning("event %s not processed: Stripe unreachable", data.get("id"))
        return JsonResponse({"error": "Try again later."}, status=503)
    # Stripe's news about a member who deleted his account keeps nothing of him.
    erasure.stripe_event_received(data)
    return JsonResponse({"received": True})
