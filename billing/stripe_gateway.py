"""Stripe: the one module (with dj-stripe) that talks to the Stripe API.

Secrets come from the environment and are never written to a database:
- webhooks are verified here with STRIPE_WEBHOOK_SECRET, then handed to
  dj-stripe's event processing (its own endpoint, which stores endpoint
  secrets and, with DEBUG on, trusts an X-Djstripe-Webhook-Secret header, is
  not mounted);
- dj-stripe would store the secret key in its APIKey table the first time it
  needs the account behind a key; `_account_for_key` replaces that lookup with
  one that keeps only the (non-secret) account.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone
from djstripe.models import Account, Customer, Event, Price
from djstripe.settings import djstripe_settings

from accounts.models import User
from billing.models import DuesTier
from notifications.transport import TransportError

logger = logging.getLogger("mensc.billing")

WEBHOOK_TOLERANCE = 300  # seconds: an older signature is a replay
# How long Stripe lets a Checkout Session stay open, at least and at most.
CHECKOUT_SHORTEST = timedelta(minutes=30, seconds=30)
CHECKOUT_LONGEST = timedelta(hours=23, minutes=59)


class WebhookError(Exception):
    """A webhook request that is not a genuine, fresh Stripe event."""


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def configure() -> None:
    """Point the stripe library at the configured API (a local fake in tests)."""
    stripe.api_base = settings.STRIPE_API_BASE
    # No usage data about our requests goes to Stripe.
    stripe.enable_telemetry = False


def _vendor_error(error: stripe.StripeError) -> TransportError:
    status = getattr(error, "http_status", None) or 0
    transient = status >= 500 or status == 429 or isinstance(error, stripe.APIConnectionError)
    message = f"Stripe {status or 'unreachable'}: {error.user_message or ''}"[:200]
    return TransportError(message, permanent=not transient)


def price_sync(price_id: str) -> Price:
    """Fetch a Price from Stripe into dj-stripe's tables (and check it is recurring)."""
    try:
        data = stripe.Price.retrieve(
            price_id,
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    if not data.get("recurring"):
        raise TransportError("That Stripe price is not recurring.", permanent=True)
    return Price.sync_from_stripe_data(data, api_key=settings.STRIPE_SECRET_KEY)


def price_create(*, name: str, amount_cents: int, currency: str, idempotency_key: str) -> Price:
    """A new monthly Price (and its Product) in Stripe, synced into dj-stripe's tables.

    `idempotency_key` makes a form sent twice one price, not two.
    """
    try:
        data = stripe.Price.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            idempotency_key=idempotency_key,
            unit_amount=amount_cents,
            currency=currency,
            recurring={"interval": "month"},
            nickname=name,
            product_data={"name": f"Dues: {name}"},
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return Price.sync_from_stripe_data(data, api_key=settings.STRIPE_SECRET_KEY)


def ticket_price_create(
    *, product_name: str, name: str, amount_cents: int, currency: str, idempotency_key: str
) -> str:
    """A new one-time Price (and its Product) in Stripe, for a ticket; its id.

    Not synced into dj-stripe's tables: a ticket's price is read from our own
    tier, and Checkout is told only its id. `idempotency_key` makes a form sent
    twice one price, not two.
    """
    try:
        data = stripe.Price.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            idempotency_key=idempotency_key,
            unit_amount=amount_cents,
            currency=currency,
            nickname=name,
            product_data={"name": product_name},
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return data["id"]


def one_time_price_fits(price_id: str, *, amount_cents: int, currency: str) -> bool:
    """Whether `price_id` is an active one-time Price of exactly this amount in Stripe.

    False for a price Stripe does not know (a mistyped id) or one that no
    longer fits (the amount was changed since, or it is recurring).
    """
    try:
        data = stripe.Price.retrieve(
            price_id,
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
        )
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            return False
        raise _vendor_error(error) from error
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return (
        bool(data.get("active"))
        and data.get("type") == "one_time"
        and data.get("unit_amount") == amount_cents
        and data.get("currency") == currency.lower()
    )


def customer_for(user: User) -> Customer:
    """The member's Stripe customer (dj-stripe), created on first use."""
    try:
        customer, _ = Customer.get_or_create(subscriber=user)
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return customer


def checkout_url(*, user: User, tier: DuesTier, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout Session (subscription) for `tier`; the browser goes to its URL."""
    customer = customer_for(user)
    try:
        session = stripe.checkout.Session.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            mode="subscription",
            customer=customer.id,
            client_reference_id=str(user.pk),
            line_items=[{"price": tier.stripe_price_id, "quantity": 1}],
            success_url=success_url,
            cancel_url=cancel_url,
            metadata={"user_id": str(user.pk), "tier_id": str(tier.pk)},
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return session.url


def portal_url(*, user: User, return_url: str) -> str:
    """A Billing Portal session where the member changes tier or card, or cancels."""
    customer = customer_for(user)
    try:
        session = stripe.billing_portal.Session.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            customer=customer.id,
            return_url=return_url,
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return session.url


def payment_checkout(
    *,
    user: User,
    price_id: str,
    purpose: str,
    reference: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
    idempotency_key: str | None = None,
) -> tuple[str, str]:
    """A Stripe Checkout Session in payment mode (one price, once): its id and URL.

    `purpose` and `reference` go into the session's metadata and come back in
    the verified webhook, where billing.payments hands the session to the app
    that registered `purpose`. Stripe lets a session live between 30 minutes
    and 24 hours (`expires_at` is kept inside that).
    """
    customer = customer_for(user)
    now = timezone.now()
    expires_at = min(max(expires_at, now + CHECKOUT_SHORTEST), now + CHECKOUT_LONGEST)
    metadata = {"purpose": purpose, "reference": reference, "user_id": str(user.pk)}
    options = {"idempotency_key": idempotency_key} if idempotency_key else {}
    try:
        session = stripe.checkout.Session.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            **options,
            mode="payment",
            customer=customer.id,
            client_reference_id=reference,
            line_items=[{"price": price_id, "quantity": 1}],
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=int(expires_at.timestamp()),
            metadata=metadata,
            payment_intent_data={"metadata": metadata},
        )
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return session.id, session.url


def checkout_expire(session_id: str) -> str:
    """Close a Checkout Session so it can no longer be paid; its status after.

    "expired" when it is closed (now or before); "complete" when he paid
    first, in which case the payment's webhook is on its way. Safe to run again.
    """
    options = {
        "api_key": settings.STRIPE_SECRET_KEY,
        "stripe_version": djstripe_settings.STRIPE_API_VERSION,
    }
    try:
        try:
            return stripe.checkout.Session.expire(session_id, **options)["status"]
        except stripe.InvalidRequestError:
            # Only an open session can be expired: this one was paid or closed before.
            return stripe.checkout.Session.retrieve(session_id, **options)["status"]
    except stripe.StripeError as error:
        raise _vendor_error(error) from error


def refund(*, payment_intent: str, idempotency_key: str) -> str:
    """Refund a payment in full; the refund's id.

    The same `idempotency_key` (one per thing refunded) makes a retry after a
    lost answer the same refund, not a second; a payment refunded before
    (under another key) is done, and answers "".
    """
    try:
        data = stripe.Refund.create(
            api_key=settings.STRIPE_SECRET_KEY,
            stripe_version=djstripe_settings.STRIPE_API_VERSION,
            idempotency_key=idempotency_key,
            payment_intent=payment_intent,
            reason="requested_by_customer",
        )
    except stripe.InvalidRequestError as error:
        if error.code == "charge_already_refunded":
            return ""
        raise _vendor_error(error) from error
    except stripe.StripeError as error:
        raise _vendor_error(error) from error
    return data["id"]


ENDED = ("canceled", "incomplete_expired")


def customer_close(customer_id: str) -> None:
    """Cancel every subscription of a Stripe customer, then delete the customer.

    For a member deleting his account. Safe to run again: a subscription
    already ended, or a customer already deleted, is done. Raises
    TransportError when Stripe cannot be reached or refuses.
    """
    options = {
        "api_key": settings.STRIPE_SECRET_KEY,
        "stripe_version": djstripe_settings.STRIPE_API_VERSION,
    }
    try:
        subscriptions = stripe.Subscription.list(
            customer=customer_id, status="all", limit=100, **options
        )
        for subscription in subscriptions.auto_paging_iter():
            if subscription["status"] not in ENDED:
                _unless_gone(stripe.Subscription.cancel, subscription["id"], **options)
        _unless_gone(stripe.Customer.delete, customer_id, **options)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise _vendor_error(error) from error
        # The customer itself is gone (deleted before): nothing left to cancel.
    except stripe.StripeError as error:
        raise _vendor_error(error) from error


def _unless_gone(call: Any, object_id: str, **options: Any) -> None:
    try:
        call(object_id, **options)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise


def verify_webhook(payload: bytes, signature: str) -> dict[str, Any]:
    """The event in a webhook request, if Stripe signed it recently with our secret."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookError("Webhooks are not configured.")
    try:
        # The signature alone first: stripe.Webhook.construct_event crashes on
        # a signed body that is JSON but not an object.
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=WEBHOOK_TOLERANCE,
        )
        data = json.loads(payload)
    except stripe.SignatureVerificationError as error:
        raise WebhookError("Invalid or expired signature.") from error
    except ValueError as error:  # also UnicodeDecodeError
        raise WebhookError("Malformed JSON.") from error
    if not isinstance(data, dict) or data.get("object") != "event" or "id" not in data:
        raise WebhookError("Not a Stripe event.")
    return data


def process_event(data: dict[str, Any]) -> Event:
    """Hand a verified event to dj-stripe (idempotent: a replayed event does nothing).

    Raises TransportError when Stripe could not be asked about a related
    object; dj-stripe then kept nothing, and Stripe should send the event again.
    """
    try:
        return Event.process(data=data, api_key=settings.STRIPE_SECRET_KEY)
    except stripe.StripeError as error:
        raise _vendor_error(error) from error


# --- Keeping the secret key out of dj-stripe's APIKey table ----------------------------

_accounts: dict[str, str] = {}


def _account_for_key(cls: type[Account], api_key: str) -> Account:
    """dj-stripe's Account.get_or_retrieve_for_api_key, minus storing the key."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    account_id = _accounts.get(fingerprint)
    if account_id:
        account = cls.objects.filter(id=account_id).first()
        if account is not None:
            return account
    data = cls.stripe_class.retrieve(
        api_key=api_key, stripe_version=djstripe_settings.STRIPE_API_VERSION
    )
    # As dj-stripe does: a stub first, because syncing the account looks it up.
    account, created = cls.objects.get_or_create(id=data["id"])
    _accounts[fingerprint] = account.id
    if created:
        cls.sync_from_stripe_data(data, api_key=api_key)
        account.refresh_from_db()
    return account


def keep_secret_key_out_of_database() -> None:
    Account.get_or_retrieve_for_api_key = classmethod(_account_for_key)
