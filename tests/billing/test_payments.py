"""One-off payments through the gateway: Checkout in payment mode, expiry, refunds, webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from djstripe.models import Session

from accounts.models import User
from billing import payments, stripe_gateway
from notifications.transport import TransportError
from tests.billing.conftest import deliver

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def seen() -> Iterator[dict[str, list[dict]]]:
    """A purpose registered for the test, recording the sessions billing hands it."""
    record: dict[str, list[dict]] = {"paid": [], "expired": []}
    payments.register("test_ticket", paid=record["paid"].append, expired=record["expired"].append)
    yield record
    payments._purposes.pop("test_ticket")


def _checkout(member: User, fake, *, key: str = "k-1") -> tuple[str, str]:
    price_id = stripe_gateway.ticket_price_create(
        product_name="Retreat",
        name="Standard",
        amount_cents=9000,
        currency="usd",
        idempotency_key=f"price-{key}",
    )
    return stripe_gateway.payment_checkout(
        user=member,
        price_id=price_id,
        purpose="test_ticket",
        reference="41",
        success_url="https://mensc.test/ok/",
        cancel_url="https://mensc.test/back/",
        expires_at=timezone.now() + timedelta(minutes=30),
        idempotency_key=key,
    )


def test_a_paid_session_reaches_its_purpose_once(member: User, stripe_fake, seen) -> None:
    session_id, url = _checkout(member, stripe_fake)
    assert url == f"{stripe_fake.base_url}/checkout/{session_id}"
    created = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[-1]
    assert created["params"]["mode"] == "payment"
    assert created["params"]["metadata"]["purpose"] == "test_ticket"
    assert created["idempotency_key"] == "k-1"

    events = stripe_fake.complete_checkout(session_id)
    first = deliver(Client(), stripe_fake, events)
    again = deliver(Client(), stripe_fake, events)

    assert [r.status_code for r in first + again] == [200] * 4
    assert [s["id"] for s in seen["paid"]] == [session_id]  # a replay has no second effect
    assert seen["paid"][0]["metadata"]["reference"] == "41"
    assert Session.objects.get(id=session_id).payment_intent_id  # dj-stripe kept its copy


def test_a_forged_completion_reaches_nobody(member: User, stripe_fake, seen) -> None:
    events = stripe_fake.complete_checkout(_checkout(member, stripe_fake)[0])
    payload, signature = stripe_fake.sign(events[1])

    response = Client().post(
        "/stripe/webhook/",
        payload.replace(b"41", b"42"),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )

    assert response.status_code == 400
    assert seen["paid"] == []


def test_expiring_an_open_session_closes_it_and_tells_its_purpose(
    member: User, stripe_fake, seen
) -> None:
    session_id, _ = _checkout(member, stripe_fake)

    assert stripe_gateway.checkout_expire(session_id) == "expired"
    assert stripe_gateway.checkout_expire(session_id) == "expired"  # again: done
    deliver(Client(), stripe_fake, stripe_fake.events_of("checkout.session.expired"))

    assert [s["id"] for s in seen["expired"]] == [session_id]


def test_expiring_a_paid_session_says_it_was_paid(member: User, stripe_fake) -> None:
    session_id, _ = _checkout(member, stripe_fake)
    stripe_fake.complete_checkout(session_id)

    assert stripe_gateway.checkout_expire(session_id) == "complete"


def test_a_refund_is_made_once_per_key(member: User, stripe_fake) -> None:
    session_id, _ = _checkout(member, stripe_fake)
    stripe_fake.complete_checkout(session_id)
    intent = stripe_fake.get(session_id)["payment_intent"]

    first = stripe_gateway.refund(payment_intent=intent, idempotency_key="refund-41")
    again = stripe_gateway.refund(payment_intent=intent, idempotency_key="refund-41")
    other = stripe_gateway.refund(payment_intent=intent, idempotency_key="refund-41-b")

    assert first == again and first.startswith("re_")
    assert other == ""  # refunded before: nothing more to do
    assert len(stripe_fake.events_of("refund.created")) == 1


def test_a_refund_stripe_cannot_make_is_a_transport_error(member: User, stripe_fake) -> None:
    session_id, _ = _checkout(member, stripe_fake)
    stripe_fake.complete_checkout(session_id)
    stripe_fake.fail_next(status=500, should_retry=False)

    with pytest.raises(TransportError) as error:
        stripe_gateway.refund(
            payment_intent=stripe_fake.get(session_id)["payment_intent"], idempotency_key="r"
        )

    assert error.value.permanent is False
