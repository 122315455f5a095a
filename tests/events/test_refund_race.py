"""Two refund runs at once (two cron hosts) make one Stripe refund (real PostgreSQL, threads)."""

from __future__ import annotations

import pytest
import stripe
from django.db import transaction

from events import payments
from events.models import Event, Registration
from tests.circles.conftest import make_verified
from tests.events.conftest import add_tier, make_event, register_directly
from tests.fakes import stripe as stripe_module
from tests.races import Worker, parked

stripe_fake = stripe_module.stripe_fake

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_two_runs_at_once_refund_a_registration_once(stripe_fake) -> None:
    event = make_event(capacity=3, status=Event.Status.CANCELLED)
    price = stripe_fake.add_price(15000, interval=None)
    session = stripe.checkout.Session.create(
        api_key=stripe_fake.secret_key,
        mode="payment",
        line_items=[{"price": price["id"], "quantity": 1}],
        success_url="https://mensc.test/",
    )
    stripe_fake.complete_checkout(session.id)
    registration = register_directly(
        event,
        make_verified("dan@example.com"),
        tier=add_tier(event),
        payment=Registration.Payment.PAID,
        amount_cents=15000,
        payment_intent_id=stripe_fake.get(session.id)["payment_intent"],
    )

    with transaction.atomic():
        # Both runs start while another holds the row: they queue on its lock.
        Registration.objects.select_for_update().get(pk=registration.pk)
        first = Worker(lambda: payments.refunds_issue(event=event))
        assert parked("default", "events_registration", first)
        second = Worker(lambda: payments.refunds_issue(event=event))
        assert parked("default", "events_registration", second)

    results = sorted([first.join(), second.join()])

    assert results == [(0, 0), (1, 0)]
    assert len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1
    registration.refresh_from_db()
    assert registration.payment == Registration.Payment.REFUNDED
