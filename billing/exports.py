"""billing's sections of "Download my data" (registered from BillingConfig.ready()).

His dues status, what dj-stripe's tables hold about him (his Stripe customer,
subscriptions, invoices, saved payment methods: the card's brand and last
four digits, as Stripe gives them), his scholarship requests (his reason and
the decision, not who decided) and the payments a treasurer recorded for him.
Amounts are in cents, with their currency. Left out on purpose: an invoice's
hosted link (whoever holds it can open and pay the invoice) and dj-stripe's
raw webhook log (Stripe's copies of these same records). Each section costs a
fixed number of queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from djstripe.models import Customer, PaymentMethod, Subscription

from accounts.exports import iso
from accounts.models import User
from billing.models import DuesTier, OfflinePayment, Scholarship
from billing.selectors import dues_status, invoices_of, subscriptions_of

Json = dict[str, Any]


def _stamp(seconds: Any) -> str | None:
    """A Stripe Unix timestamp as ISO 8601 UTC."""
    return datetime.fromtimestamp(seconds, UTC).isoformat() if isinstance(seconds, int) else None


def _customer(customer: Customer) -> Json:
    data = customer.stripe_data or {}
    return {
        "stripe_id": customer.id,
        "created_at": iso(customer.created),
        "email": customer.email or data.get("email"),
        "name": data.get("name"),
        "phone": data.get("phone"),
        "address": data.get("address"),
    }


def _first_item(subscription: Subscription) -> Json:
    """The subscription's (one) item: its price and, since Stripe's 2025 API, its period."""
    items = ((subscription.stripe_data or {}).get("items") or {}).get("data") or [{}]
    return items[0] or {}


def _subscription(subscription: Subscription, tiers: dict[str, str]) -> Json:
    data = subscription.stripe_data or {}
    item = _first_item(subscription)
    price = item.get("price") or {}
    return {
        "stripe_id": subscription.id,
        "tier": tiers.get(price.get("id"), price.get("nickname")),
        "amount_cents": price.get("unit_amount"),
        "currency": price.get("currency"),
        "interval": (price.get("recurring") or {}).get("interval"),
        "status": data.get("status"),
        "started_at": _stamp(data.get("start_date")),
        "current_period_ends_at": _stamp(
            data.get("current_period_end") or item.get("current_period_end")
        ),
        "cancels_at_period_end": data.get("cancel_at_period_end"),
        "cancelled_at": _stamp(data.get("canceled_at")),
    }


def _payment_method(method: PaymentMethod) -> Json:
    data = method.stripe_data or {}
    card = data.get("card") or {}
    return {
        "type": data.get("type"),
        "card_brand": card.get("brand"),
        "card_last4": card.get("last4"),
        "card_expires": f"{card['exp_month']:02d}/{card['exp_year']}"
        if isinstance(card.get("exp_month"), int) and card.get("exp_year")
        else None,
        "billing_details": data.get("billing_details"),
    }


def dues(user: User) -> Json:
    status = dues_status(user)
    subscriptions = list(subscriptions_of(user).order_by("created"))
    price_ids = {(_first_item(s).get("price") or {}).get("id") for s in subscriptions}
    # The tier he chose, by our name for it (one query).
    tiers = dict(
        DuesTier.objects.filter(stripe_price_id__in=price_ids - {None}).values_list(
            "stripe_price_id", "name"
        )
    )
    return {
        "status": status.word,
        "until": iso(status.until),
        "stripe_customers": [
            _customer(customer)
            for customer in Customer.objects.filter(subscriber=user).order_by("created")
        ],
        "subscriptions": [_subscription(subscription, tiers) for subscription in subscriptions],
        "payment_methods": [
            _payment_method(method)
            for method in PaymentMethod.objects.filter(customer__subscriber=user).order_by(
                "created"
            )
        ],
    }


def invoices(user: User) -> list[Json]:
    exported = []
    for invoice in invoices_of(user).order_by("created"):
        data = invoice.stripe_data or {}
        exported.append(
            {
                "number": data.get("number"),
                "date": iso(invoice.created),
                "amount_due_cents": data.get("amount_due"),
                "amount_paid_cents": data.get("amount_paid"),
                "currency": data.get("currency"),
                "status": data.get("status"),
            }
        )
    return exported


def scholarships(user: User) -> list[Json]:
    rows = Scholarship.objects.filter(user=user).order_by("requested_at")
    return [
        {
            "kind": scholarship.kind,
            "reason": scholarship.reason,
            "status": scholarship.status,
            "until": iso(scholarship.until),
            "requested_at": iso(scholarship.requested_at),
            "decided_at": iso(scholarship.decided_at),
        }
        for scholarship in rows
    ]


def offline_payments(user: User) -> list[Json]:
    rows = OfflinePayment.objects.filter(user=user).order_by("recorded_at")
    return [
        {
            "recorded_at": iso(payment.recorded_at),
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "method": payment.method,
            "covers_from": iso(payment.covers_from),
            "covers_until": iso(payment.covers_until),
            "note": payment.note,
        }
        for payment in rows
    ]


SECTIONS = {
    "dues": dues,
    "invoices": invoices,
    "scholarships": scholarships,
    "offline_payments": offline_payments,
}
