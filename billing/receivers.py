"""dj-stripe webhook signals, each calling one service."""

from __future__ import annotations

from typing import Any

from djstripe.event_handlers import djstripe_receiver
from djstripe.models import Customer, Event

from billing import payments, services


@djstripe_receiver("invoice.payment_failed")
def invoice_payment_failed(sender: Any, event: Event, **kwargs: Any) -> None:
    invoice = event.data["object"]
    customer = Customer.objects.filter(id=invoice.get("customer")).select_related("subscriber")
    customer = customer.first()
    if customer is None or customer.subscriber is None:
        return
    services.dues_past_due_notice(
        user=customer.subscriber,
        invoice_id=invoice["id"],
        hosted_invoice_url=invoice.get("hosted_invoice_url") or "",
    )


@djstripe_receiver(["checkout.session.completed", "checkout.session.async_payment_succeeded"])
def checkout_session_paid(sender: Any, event: Event, **kwargs: Any) -> None:
    payments.completed(event.data["object"])


@djstripe_receiver("checkout.session.expired")
def checkout_session_expired(sender: Any, event: Event, **kwargs: Any) -> None:
    payments.expired(event.data["object"])
