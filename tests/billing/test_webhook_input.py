from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from djstripe.models import Event

from tests.billing.conftest import deliver
from tests.fakes.stripe import sign_event

pytestmark = pytest.mark.django_db(databases="__all__")


def an_event(fake, type_: str = "customer.created") -> dict:
    customer = fake.add_customer("someone@example.com")
    return {
        "id": "evt_test_1234567890abcdef",
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": int(time.time()),
        "type": type_,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": customer},
    }


def post(payload: bytes, signature: str | None, **headers):
    extra = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return Client().post(
        "/stripe/webhook/", payload, content_type="application/json", **extra, **headers
    )


def test_a_bad_signature_is_a_400_and_nothing_is_stored(stripe_fake) -> None:
    payload, _ = stripe_fake.sign(an_event(stripe_fake))
    _, forged = sign_event(an_event(stripe_fake), "whsec_not_our_secret")

    for signature in (forged, "", None, "t=1,v1=deadbeef"):
        response = post(payload, signature)
        assert response.status_code == 400
        assert "signature" in response.json()["error"].lower()
    assert not Event.objects.exists()


def test_a_tampered_payload_is_refused(stripe_fake) -> None:
    payload, signature = stripe_fake.sign(an_event(stripe_fake))
    tampered = payload.replace(b"customer.created", b"customer.deleted")

    assert post(tampered, signature).status_code == 400
    assert not Event.objects.exists()


def test_a_stale_timestamp_is_a_replay_and_refused(stripe_fake) -> None:
    responses = deliver(
        Client(), stripe_fake, [an_event(stripe_fake)], timestamp=int(time.time()) - 3600
    )

    assert responses[0].status_code == 400
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"object": "list"}', b"\xff\xfe"])
def test_malformed_or_foreign_json_signed_correctly_is_a_400(stripe_fake, body: bytes) -> None:
    timestamp = int(time.time())
    import hashlib
    import hmac

    mac = hmac.new(
        stripe_fake.webhook_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()

    response = post(body, f"t={timestamp},v1={mac}")

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_an_unknown_event_type_is_accepted_and_ignored(stripe_fake) -> None:
    event = an_event(stripe_fake, "radar.early_fraud_warning.created")

    responses = deliver(Client(), stripe_fake, [event])

    assert responses[0].status_code == 200
    assert Event.objects.filter(type="radar.early_fraud_warning.created").count() == 1


def test_the_djstripe_debug_header_is_never_a_substitute_for_a_signature(
    stripe_fake, settings
) -> None:
    settings.DEBUG = True
    payload = json.dumps(an_event(stripe_fake)).encode()

    response = post(payload, None, HTTP_X_DJSTRIPE_WEBHOOK_SECRET=stripe_fake.webhook_secret)

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_webhooks_without_a_configured_secret_are_refused(stripe_fake, settings) -> None:
    payload, signature = stripe_fake.sign(an_event(stripe_fake))
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert post(payload, signature).status_code == 400
    assert not Event.objects.exists()


def test_a_stripe_outage_while_processing_is_a_503_and_stores_nothing(stripe_fake) -> None:
    event = an_event(stripe_fake, "customer.subscription.created")
    event["data"]["object"] = {
        "id": "sub_missing",
        "object": "subscription",
        "customer": "cus_unknown_to_us",
    }
    stripe_fake.fail_next(10, status=500, should_retry=False)

    responses = deliver(Client(), stripe_fake, [event])

    assert responses[0].status_code == 503
    assert not Event.objects.exists()


def test_get_is_not_allowed() -> None:
    assert Client().get("/stripe/webhook/").status_code == 405
