from __future__ import annotations

import pytest
from django.test import Client

from billing.models import DuesTier
from tests.fakes import stripe as stripe_module

stripe_fake = stripe_module.stripe_fake


@pytest.fixture
def tier(stripe_fake) -> DuesTier:
    price = stripe_fake.add_price(1500, nickname="Standard")
    return DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id=price["id"])


def deliver(client: Client, fake, events: list[dict], *, timestamp: int | None = None):
    """POST each event to our webhook, signed as Stripe would; return the responses."""
    responses = []
    for event in events:
        payload, signature = fake.sign(event, timestamp=timestamp)
        responses.append(
            client.post(
                "/stripe/webhook/",
                payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )
        )
    return responses
