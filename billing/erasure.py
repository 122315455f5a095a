"""What deleting an account does to dues (registered with accounts.personal_data).

- release: at Stripe, his subscriptions are cancelled and his customer is
  deleted (billing.stripe_gateway). Stripe unreachable: nothing is deleted and
  he is asked to try again; a customer already deleted counts as done, so a
  retried deletion goes through.
- erase: dj-stripe's copies keep what accounting needs (amounts, currency,
  dates, statuses, invoice numbers) without the person: his name, email,
  phone, address and card details are taken out of every row about his
  customers, the events Stripe sent about them included. The customer row
  stays, unlinked and marked purged, because invoices hang on it. His offline
  payments stay, anonymous, for the books; his scholarship requests go.
- afterwards: Stripe still sends events about the deleted customer (the
  cancellation, the deletion itself). They are processed as usual, so the
  books stay right, and then forgotten the same way (`stripe_event_received`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from djstripe.models import Customer, Event, IdempotencyKey, WebhookEventTrigger

from accounts import personal_data
from accounts.models import User
from billing import stripe_gateway
from billing.models import OfflinePayment, Scholarship
from notifications.transport import TransportError

logger = logging.getLogger("mensc.billing")

STRIPE_UNREACHABLE = (
    "We could not reach our payment provider to cancel your dues, so nothing was deleted. "
    "Please try again in a few minutes."
)

# Keys of Stripe objects that hold the person: emptied wherever they appear
# (customer, invoice, charge, payment method, checkout session, event).
PERSONAL_KEYS = frozenset(
    {
        "address",
        "billing_details",
        "business_name",
        "card",
        "customer_address",
        "customer_details",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_shipping",
        "customer_tax_ids",
        "email",
        "fingerprint",
        "individual_name",
        "name",
        "phone",
        "receipt_email",
        "shipping",
        "shipping_details",
        "tax_ids",
    }
)


def release(user: User) -> None:
    """Cancel his subscriptions and delete his customers at Stripe (idempotent)."""
    customer_ids = list(Customer.objects.filter(subscriber=user).values_list("id", flat=True))
    if not customer_ids:
        return
    if not settings.STRIPE_SECRET_KEY:
        logger.error("user %s has Stripe customers but Stripe is not configured", user.pk)
        raise personal_data.ErasureError(STRIPE_UNREACHABLE)
    for customer_id in customer_ids:
        try:
            stripe_gateway.customer_close(customer_id)
        except TransportError as error:
            logger.warning("closing Stripe customer %s failed: %s", customer_id, error.message)
            raise personal_data.ErasureError(STRIPE_UNREACHABLE) from error


def erase(user: User) -> None:
    """Unlink and anonymise his Stripe records; anonymise his offline payments."""
    customers = Customer.objects.select_for_update().filter(subscriber=user)
    customer_ids = list(customers.values_list("id", flat=True))
    # subscriber and date_purged are ours, not Stripe's: no sync brings him back.
    customers.update(subscriber=None, date_purged=timezone.now())
    stripe_forget(customer_ids)
    IdempotencyKey.objects.filter(action=f"customer:create:{user.pk}").delete()
    # The books keep amount, currency, method and period; a treasurer's note may name him.
    OfflinePayment.objects.filter(user=user).update(user=None, note="")
    Scholarship.objects.filter(user=user).delete()


def holds(user_ids: Collection[int]) -> set[int]:
    """Accounts with a Stripe customer, an offline payment or a scholarship."""
    held = set(
        Customer.objects.filter(subscriber_id__in=user_ids).values_list("subscriber_id", flat=True)
    )
    held |= set(
        OfflinePayment.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True)
    )
    held |= set(Scholarship.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    return held


def register() -> None:
    personal_data.eraser("billing", release=release, erase=erase, holds=holds)


# --- Forgetting a customer in dj-stripe's tables --------------------------------------


def stripe_forget(customer_ids: Iterable[str]) -> None:
    """Take the person out of every local copy of these Stripe customers' objects."""
    ids = [customer_id for customer_id in customer_ids if customer_id]
    if not ids:
        return
    Customer.objects.filter(id__in=ids).update(email="", metadata={})
    for model in _customer_models():
        for pk, data in model.objects.filter(customer__id__in=ids).values_list("pk", "stripe_data"):
            _save_scrubbed(model, pk, "stripe_data", data)
    for pk, data in Customer.objects.filter(id__in=ids).values_list("pk", "stripe_data"):
        data = dict(data or {})
        data.update(description=None, metadata={})
        _save_scrubbed(Customer, pk, "stripe_data", data, force=True)
    events = Event.objects.filter(Q(data__object__customer__in=ids) | Q(data__object__id__in=ids))
    for pk, data, stripe_data in events.values_list("pk", "data", "stripe_data"):
        _save_scrubbed(Event, pk, "data", data)
        _save_scrubbed(Event, pk, "stripe_data", stripe_data)
    # dj-stripe's own webhook endpoint (not mounted here) would log raw bodies.
    WebhookEventTrigger.objects.filter(
        _any(Q(body__contains=customer_id) for customer_id in ids)
    ).delete()


def stripe_event_received(data: dict[str, Any]) -> None:
    """After a webhook is processed: forget it if it is about a deleted member's customer.

    Locks the customer row first, so an event processed while his deletion
    commits is forgotten after it.
    """
    customer_id = _customer_of(data)
    if not customer_id:
        return
    with transaction.atomic():
        purged = Customer.objects.select_for_update().filter(
            id=customer_id, subscriber__isnull=True, date_purged__isnull=False
        )
        if purged.exists():
            stripe_forget([customer_id])


def _customer_of(data: dict[str, Any]) -> str:
    obj = (data.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        return ""
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else ""


def _customer_models() -> list[type[models.Model]]:
    """dj-stripe's models with a foreign key to the customer (invoices, charges ...)."""
    found = []
    for model in apps.get_app_config("djstripe").get_models():
        if model is Customer or model._meta.proxy or not model._meta.managed:
            continue
        field = next((f for f in model._meta.get_fields() if f.name == "customer"), None)
        if field is not None and field.is_relation and field.related_model is Customer:
            found.append(model)
    return found


def scrubbed(value: Any) -> Any:
    """A copy of Stripe JSON with every personal key emptied, at any depth."""
    if isinstance(value, dict):
        return {
            key: None if key in PERSONAL_KEYS and item is not None else scrubbed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value


def _save_scrubbed(
    model: type[models.Model], pk: Any, field: str, data: Any, *, force: bool = False
) -> None:
    clean = scrubbed(data)
    if force or clean != data:
        model.objects.filter(pk=pk).update(**{field: clean})


def _any(conditions: Iterable[Q]) -> Q:
    result = Q(pk__in=[])
    for condition in conditions:
        result |= condition
    return result
