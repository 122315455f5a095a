"""The local Stripe fake, driven by the real `stripe` client: shapes, errors, events, signatures."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
import stripe
from djstripe.settings import djstripe_settings

from tests.fakes import stripe as stripe_module
from tests.fakes.stripe import FakeStripe, parse_form, sign_event

# Registers the fixture here. An assignment rather than a bare import, because ruff
# reports an imported fixture as redefined (F811) by every test that asks for it.
stripe_fake = stripe_module.stripe_fake

DJSTRIPE_KEY = re.compile(r"^(pk|sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$")  # dj-stripe's check


def _checkout(fake: FakeStripe, price_id: str, **extra: object) -> stripe.checkout.Session:
    customer = stripe.Customer.create(api_key=fake.secret_key, email="bob@example.com")
    return stripe.checkout.Session.create(
        api_key=fake.secret_key,
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": price_id, "quantity": 1}],
        success_url="https://mensc.test/billing/done/",
        cancel_url="https://mensc.test/billing/",
        client_reference_id="42",
        metadata={"user_id": "42"},
        **extra,
    )


def _subscribed(fake: FakeStripe) -> tuple[str, list[dict]]:
    price = fake.add_price(1500, nickname="Monthly dues")
    events = fake.complete_checkout(_checkout(fake, price["id"]).id)
    return events[1]["data"]["object"]["id"], events


# --- Set-up -------------------------------------------------------------------------


def test_fake_speaks_the_api_version_dj_stripe_pins() -> None:
    assert stripe_module.API_VERSION == djstripe_settings.DEFAULT_STRIPE_API_VERSION


def test_fixture_points_settings_and_the_stripe_library_at_the_fake(
    stripe_fake: FakeStripe, settings: object
) -> None:
    assert stripe.api_base == stripe_fake.base_url == settings.STRIPE_API_BASE
    assert stripe.enable_telemetry is False
    assert settings.STRIPE_SECRET_KEY.startswith("sk_test_")
    assert settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test_")
    assert DJSTRIPE_KEY.match(settings.STRIPE_SECRET_KEY)
    assert DJSTRIPE_KEY.match(settings.STRIPE_PUBLISHABLE_KEY)
    assert stripe_fake.webhook_secret == settings.STRIPE_WEBHOOK_SECRET
    assert stripe_fake.webhook_secret.startswith("whsec_")
    assert stripe_fake.env()["STRIPE_API_BASE"] == stripe_fake.base_url


def test_form_bodies_parse_into_nested_data() -> None:
    pairs = [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
        ("metadata[user_id]", "42"),
        ("expand[]", "customer"),
        ("expand[]", "line_items"),
    ]

    assert parse_form(pairs) == {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "metadata": {"user_id": "42"},
        "expand": ["customer", "line_items"],
    }


# --- The API ------------------------------------------------------------------------


def test_customers_are_created_updated_and_listed_by_email(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    created = stripe.Customer.create(
        api_key=key, email="bob@example.com", name="Bob", metadata={"user_id": 42, "tier": "a"}
    )
    stripe.Customer.create(api_key=key, email="charlie@example.com")

    stripe.Customer.modify(created.id, api_key=key, metadata={"tier": "", "note": "x"})
    fetched = stripe.Customer.retrieve(created.id, api_key=key)
    by_email = stripe.Customer.list(api_key=key, email="bob@example.com")

    assert re.match(r"^cus_\w{14}$", created.id)
    assert created.livemode is False
    assert isinstance(created.created, int)
    assert fetched.metadata.to_dict() == {"user_id": "42", "note": "x"}
    assert [c.id for c in by_email.data] == [created.id]
    assert [e["type"] for e in stripe_fake.events] == [
        "customer.created",
        "customer.created",
        "customer.updated",
    ]


def test_a_repeated_idempotency_key_replays_the_first_answer(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    first = stripe.Customer.create(api_key=key, email="bob@example.com", idempotency_key="k1")
    again = stripe.Customer.create(api_key=key, email="bob@example.com", idempotency_key="k1")

    with pytest.raises(stripe.IdempotencyError):
        stripe.Customer.create(api_key=key, email="other@example.com", idempotency_key="k1")
    assert again.id == first.id
    assert len(stripe.Customer.list(api_key=key).data) == 1


def test_checkout_session_for_a_subscription(stripe_fake: FakeStripe) -> None:
    price = stripe_fake.add_price(1500, nickname="Monthly dues")

    session = _checkout(stripe_fake, price["id"], expand=["line_items"])

    assert re.match(r"^cs_test_\w{58}$", session.id)
    assert session.object == "checkout.session"
    assert session.url == f"{stripe_fake.base_url}/checkout/{session.id}"
    assert (session.status, session.mode, session.payment_status) == (
        "open",
        "subscription",
        "unpaid",
    )
    assert session.client_reference_id == "42"
    assert session.metadata.to_dict() == {"user_id": "42"}
    assert session.amount_total == 1500
    assert session.subscription is None
    assert [(i.price.id, i.quantity) for i in session.line_items.data] == [(price["id"], 1)]
    sent = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[0]["params"]
    assert sent["line_items"] == [{"price": price["id"], "quantity": "1"}]
    assert requests.get(session.url, timeout=5).status_code == 200


def test_checkout_refuses_an_unknown_or_one_time_price(stripe_fake: FakeStripe) -> None:
    one_time = stripe_fake.add_price(500, interval=None)

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        _checkout(stripe_fake, "price_doesnotexist")
    with pytest.raises(stripe.InvalidRequestError) as not_recurring:
        _checkout(stripe_fake, one_time["id"])

    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "line_items[0][price]")
    assert "recurring price" in str(not_recurring.value)


def test_billing_portal_session_for_a_customer(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    customer = stripe.Customer.create(api_key=key, email="bob@example.com")

    session = stripe.billing_portal.Session.create(
        api_key=key, customer=customer.id, return_url="https://mensc.test/billing/"
    )

    assert re.match(r"^bps_\w{24}$", session.id)
    assert session.object == "billing_portal.session"
    assert session.url == f"{stripe_fake.base_url}/portal/{session.id}"
    assert (session.customer, session.return_url) == (customer.id, "https://mensc.test/billing/")
    with pytest.raises(stripe.InvalidRequestError) as error:
        stripe.billing_portal.Session.create(api_key=key, customer="cus_doesnotexist")
    assert error.value.param == "customer"


def test_client_reads_back_what_checkout_created(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    subscription_id, events = _subscribed(stripe_fake)
    customer_id = events[0]["data"]["object"]["customer"]
    stripe.Customer.create(api_key=key, email="charlie@example.com")  # someone else

    subscription = stripe.Subscription.retrieve(subscription_id, api_key=key)
    item = subscription["items"].data[0]
    invoices = stripe.Invoice.list(api_key=key, customer=customer_id)
    invoice = stripe.Invoice.retrieve(invoices.data[0].id, api_key=key, expand=["payments"])
    price = stripe.Price.retrieve(item.price.id, api_key=key, expand=["product"])
    product = stripe.Product.retrieve(price.product.id, api_key=key)
    intent = stripe.PaymentIntent.retrieve(
        invoice.payments.data[0].payment.payment_intent, api_key=key
    )

    assert (subscription.status, subscription.customer) == ("active", customer_id)
    assert re.match(r"^si_\w{14}$", item.id)
    assert item.current_period_start < item.current_period_end
    assert "current_period_end" not in subscription  # on items since 2025-03-31.basil
    assert [i.id for i in invoices.data] == [subscription.latest_invoice]
    assert invoice.parent.subscription_details.subscription == subscription_id
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason) == (
        "paid",
        1500,
        "subscription_create",
    )
    assert invoice.lines.data[0].pricing.price_details.price == price.id
    assert (price.unit_amount, price.recurring.interval) == (1500, "month")
    assert product.name == "Monthly dues"
    assert intent.status == "succeeded"
    assert stripe.Subscription.list(api_key=key, customer=customer_id).data[0].id == subscription_id


def test_lists_page_with_cursors(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    ids = [stripe.Customer.create(api_key=key, email=f"m{n}@example.com").id for n in range(3)]

    first_page = stripe.Customer.list(api_key=key, limit=2)
    everyone = [c.id for c in stripe.Customer.list(api_key=key, limit=2).auto_paging_iter()]

    assert first_page.object == "list"
    assert first_page.url == "/v1/customers"
    assert first_page.has_more is True
    assert everyone == ids[::-1]  # newest first, as Stripe lists


# --- Errors -------------------------------------------------------------------------


def test_wrong_key_is_an_authentication_error(stripe_fake: FakeStripe) -> None:
    with pytest.raises(stripe.AuthenticationError) as error:
        stripe.Customer.list(api_key="sk_test_" + "x" * 24)

    assert error.value.http_status == 401
    assert error.value.json_body["error"]["type"] == "invalid_request_error"
    assert "Invalid API Key provided" in error.value.json_body["error"]["message"]


def test_missing_key_is_refused(stripe_fake: FakeStripe) -> None:
    response = requests.get(f"{stripe_fake.base_url}/v1/customers", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_id_is_resource_missing(stripe_fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        stripe.Subscription.retrieve("sub_doesnotexist", api_key=stripe_fake.secret_key)

    assert error.value.http_status == 404
    assert (error.value.code, error.value.param) == ("resource_missing", "id")
    assert error.value.user_message == "No such subscription: 'sub_doesnotexist'"


def test_unknown_endpoint_is_404_and_recorded(stripe_fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        stripe.Coupon.list(api_key=stripe_fake.secret_key)

    assert error.value.http_status == 404
    assert "Unrecognized request URL" in str(error.value)
    assert stripe_fake.unrecognized == [("GET", "/v1/coupons")]


def test_unknown_parameter_is_refused(stripe_fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        stripe.Customer.create(api_key=stripe_fake.secret_key, emial="bob@example.com")

    assert (error.value.code, error.value.param) == ("parameter_unknown", "emial")


def test_fail_next_is_an_api_error_then_service_resumes(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    stripe_fake.fail_next(1, status=500, should_retry=False)

    with pytest.raises(stripe.APIError) as error:
        stripe.Customer.list(api_key=key)

    assert error.value.http_status == 500
    assert stripe.Customer.list(api_key=key).data == []


def test_library_retries_an_outage_with_the_same_idempotency_key(
    stripe_fake: FakeStripe,
) -> None:
    stripe_fake.fail_next(1, status=503)

    customer = stripe.Customer.create(api_key=stripe_fake.secret_key, email="bob@example.com")

    attempts = stripe_fake.requests_to("POST", "/v1/customers")
    assert [a["status"] for a in attempts] == [503, 200]
    assert attempts[0]["idempotency_key"] == attempts[1]["idempotency_key"]
    assert [c.id for c in stripe.Customer.list(api_key=stripe_fake.secret_key).data] == [
        customer.id
    ]


# --- What happens at Stripe ---------------------------------------------------------


def test_complete_checkout_returns_three_events_in_order_with_consistent_ids(
    stripe_fake: FakeStripe,
) -> None:
    price = stripe_fake.add_price(1500, nickname="Monthly dues")
    session = _checkout(stripe_fake, price["id"])

    events = stripe_fake.complete_checkout(session.id)

    assert [e["type"] for e in events] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    for event in events:
        assert re.match(r"^evt_\w{24}$", event["id"])
        assert event["object"] == "event"
        assert event["api_version"] == stripe_module.API_VERSION
        assert event["livemode"] is False
        assert isinstance(event["created"], int)
        assert event["pending_webhooks"] == 1
        assert event["request"] == {"id": None, "idempotency_key": None}
    completed, created, paid = (e["data"]["object"] for e in events)
    assert (completed["id"], completed["status"], completed["payment_status"]) == (
        session.id,
        "complete",
        "paid",
    )
    assert completed["subscription"] == created["id"]
    assert completed["metadata"] == {"user_id": "42"}
    assert created["status"] == "active"
    assert created["customer"] == completed["customer"] == paid["customer"]
    assert created["items"]["data"][0]["price"]["id"] == price["id"]
    assert created["latest_invoice"] == paid["id"]
    assert paid["parent"]["subscription_details"]["subscription"] == created["id"]
    assert (paid["status"], paid["amount_paid"], paid["amount_remaining"]) == ("paid", 1500, 0)
    assert paid["hosted_invoice_url"].startswith(stripe_fake.base_url)
    assert stripe.Event.retrieve(events[2]["id"], api_key=stripe_fake.secret_key).type == (
        "invoice.paid"
    )


def test_complete_checkout_with_a_failed_payment(stripe_fake: FakeStripe) -> None:
    price = stripe_fake.add_price(1500)

    events = stripe_fake.complete_checkout(
        _checkout(stripe_fake, price["id"]).id, fail_payment=True
    )

    completed, created, failed = (e["data"]["object"] for e in events)
    assert events[2]["type"] == "invoice.payment_failed"
    assert completed["payment_status"] == "unpaid"
    assert created["status"] == "incomplete"
    assert (failed["status"], failed["attempt_count"], failed["amount_paid"]) == ("open", 1, 0)


def test_fail_invoice_leaves_an_open_invoice_and_a_past_due_subscription(
    stripe_fake: FakeStripe,
) -> None:
    subscription_id, checkout_events = _subscribed(stripe_fake)
    first_period_end = checkout_events[1]["data"]["object"]["items"]["data"][0][
        "current_period_end"
    ]

    events = stripe_fake.fail_invoice(subscription_id)

    assert [e["type"] for e in events] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    invoice, subscription = (e["data"]["object"] for e in events)
    assert (invoice["status"], invoice["attempted"], invoice["attempt_count"]) == ("open", True, 1)
    assert (invoice["amount_due"], invoice["amount_paid"], invoice["amount_remaining"]) == (
        1500,
        0,
        1500,
    )
    assert invoice["billing_reason"] == "subscription_cycle"
    assert invoice["next_payment_attempt"] > time.time()
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription_id
    assert subscription["status"] == "past_due"
    assert subscription["latest_invoice"] == invoice["id"]
    assert subscription["items"]["data"][0]["current_period_start"] == first_period_end
    assert events[1]["data"]["previous_attributes"]["status"] == "active"


def test_pay_invoice_makes_a_past_due_subscription_active(stripe_fake: FakeStripe) -> None:
    subscription_id, _ = _subscribed(stripe_fake)
    invoice_id = stripe_fake.fail_invoice(subscription_id)[0]["data"]["object"]["id"]

    events = stripe_fake.pay_invoice(invoice_id)

    assert [e["type"] for e in events] == ["invoice.paid", "customer.subscription.updated"]
    assert stripe_fake.get(subscription_id)["status"] == "active"
    assert stripe_fake.get(invoice_id)["status"] == "paid"


def test_cancel_subscription_ends_it(stripe_fake: FakeStripe) -> None:
    key = stripe_fake.secret_key
    subscription_id, events = _subscribed(stripe_fake)
    customer_id = events[0]["data"]["object"]["customer"]

    cancelled = stripe_fake.cancel_subscription(subscription_id)

    assert [e["type"] for e in cancelled] == ["customer.subscription.deleted"]
    subscription = cancelled[0]["data"]["object"]
    assert subscription["status"] == "canceled"
    assert subscription["ended_at"] == subscription["canceled_at"] is not None
    assert stripe.Subscription.list(api_key=key, customer=customer_id).data == []
    everything = stripe.Subscription.list(api_key=key, customer=customer_id, status="all")
    assert [s.id for s in everything.data] == [subscription_id]


def test_cancelling_through_the_api_emits_an_event_naming_the_request(
    stripe_fake: FakeStripe,
) -> None:
    subscription_id, _ = _subscribed(stripe_fake)

    stripe.Subscription.cancel(subscription_id, api_key=stripe_fake.secret_key)

    event = stripe_fake.events[-1]
    request = stripe_fake.requests_to("DELETE", f"/v1/subscriptions/{subscription_id}")[0]
    assert event["type"] == "customer.subscription.deleted"
    assert event["request"]["id"] == request["request_id"]


# --- Webhook signatures -------------------------------------------------------------


def _an_event() -> dict:
    fake = FakeStripe()  # not started: events need no server
    fake.add_price(1500)
    return fake.events_of("price.created")[0]


def test_signed_event_verifies_with_the_stripe_library() -> None:
    event = _an_event()

    payload, header = sign_event(event, "whsec_test_secret")

    verified = stripe.Webhook.construct_event(payload, header, "whsec_test_secret")
    assert verified.id == event["id"]
    assert json.loads(payload) == event
    assert re.match(r"^t=\d+,v1=[0-9a-f]{64}$", header)


def test_tampered_payload_fails_verification() -> None:
    payload, header = sign_event(_an_event(), "whsec_test_secret")
    tampered = payload.replace(b'"livemode": false', b'"livemode": true')

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, "whsec_test_secret")


def test_wrong_secret_fails_verification() -> None:
    payload, header = sign_event(_an_event(), "whsec_test_secret")

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_another_secret")


def test_old_signature_fails_verification_beyond_the_tolerance() -> None:
    stale = int(time.time()) - 600
    payload, header = sign_event(_an_event(), "whsec_test_secret", timestamp=stale)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_test_secret", tolerance=300)
    assert stripe.Webhook.construct_event(payload, header, "whsec_test_secret", tolerance=900).id


def test_fake_signs_with_the_secret_it_puts_in_settings(stripe_fake: FakeStripe) -> None:
    subscription_id, _ = _subscribed(stripe_fake)
    event = stripe_fake.cancel_subscription(subscription_id)[0]

    payload, header = stripe_fake.sign(event)

    assert stripe.Webhook.construct_event(payload, header, stripe_fake.webhook_secret).type == (
        "customer.subscription.deleted"
    )


# --- Payment mode and refunds -------------------------------------------------------


def _paid_once(fake: FakeStripe, amount: int = 12000) -> tuple[stripe.checkout.Session, list]:
    price = fake.add_price(amount, interval=None, nickname="Standard ticket")
    session = stripe.checkout.Session.create(
        api_key=fake.secret_key,
        mode="payment",
        line_items=[{"price": price["id"], "quantity": 1}],
        success_url="https://mensc.test/events/retreat/paid/",
        cancel_url="https://mensc.test/events/retreat/",
        metadata={"purpose": "ticket", "reference": "7"},
        payment_intent_data={"metadata": {"reference": "7"}},
    )
    return session, fake.complete_checkout(session.id)


def test_a_payment_mode_session_is_paid_at_once_with_a_charge(stripe_fake: FakeStripe) -> None:
    session, events = _paid_once(stripe_fake)

    assert [e["type"] for e in events] == ["payment_intent.succeeded", "checkout.session.completed"]
    paid = events[1]["data"]["object"]
    assert (paid["mode"], paid["status"], paid["payment_status"]) == ("payment", "complete", "paid")
    assert paid["metadata"] == {"purpose": "ticket", "reference": "7"}
    intent = stripe.PaymentIntent.retrieve(paid["payment_intent"], api_key=stripe_fake.secret_key)
    assert (intent.status, intent.amount_received) == ("succeeded", 12000)
    assert intent.metadata.to_dict() == {"reference": "7"}
    assert stripe_fake.get(intent.latest_charge)["amount_captured"] == 12000
    assert session.customer_creation == "if_required"


def test_payment_mode_refuses_a_recurring_price(stripe_fake: FakeStripe) -> None:
    price = stripe_fake.add_price(1500)
    with pytest.raises(stripe.InvalidRequestError, match="passed a recurring price"):
        stripe.checkout.Session.create(
            api_key=stripe_fake.secret_key,
            mode="payment",
            line_items=[{"price": price["id"], "quantity": 1}],
            success_url="https://mensc.test/",
        )


def test_a_session_expires_at_most_a_day_and_at_least_half_an_hour_ahead(
    stripe_fake: FakeStripe,
) -> None:
    price = stripe_fake.add_price(1500, interval=None)
    for expires_at in (int(time.time()) + 60, int(time.time()) + 2 * 86_400):
        with pytest.raises(stripe.InvalidRequestError, match="between 30 minutes and 24 hours"):
            stripe.checkout.Session.create(
                api_key=stripe_fake.secret_key,
                mode="payment",
                line_items=[{"price": price["id"], "quantity": 1}],
                success_url="https://mensc.test/",
                expires_at=expires_at,
            )


def test_an_expired_payment_session_can_no_longer_be_paid(stripe_fake: FakeStripe) -> None:
    price = stripe_fake.add_price(1500, interval=None)
    session = stripe.checkout.Session.create(
        api_key=stripe_fake.secret_key,
        mode="payment",
        line_items=[{"price": price["id"], "quantity": 1}],
        success_url="https://mensc.test/",
    )

    expired = stripe.checkout.Session.expire(session.id, api_key=stripe_fake.secret_key)

    assert (expired.status, expired.url) == ("expired", None)
    assert [e["type"] for e in stripe_fake.events][-1] == "checkout.session.expired"
    with pytest.raises(stripe.InvalidRequestError, match='status of "expired"'):
        stripe.checkout.Session.expire(session.id, api_key=stripe_fake.secret_key)
    page = requests.get(f"{stripe_fake.base_url}/checkout/{session.id}", timeout=5)
    assert page.status_code == 404


def test_a_refund_by_payment_intent_is_whole_once_and_idempotent(stripe_fake: FakeStripe) -> None:
    _, events = _paid_once(stripe_fake)
    intent_id = events[1]["data"]["object"]["payment_intent"]
    key = stripe_fake.secret_key

    refund = stripe.Refund.create(api_key=key, payment_intent=intent_id, idempotency_key="r-7")
    again = stripe.Refund.create(api_key=key, payment_intent=intent_id, idempotency_key="r-7")

    assert (refund.amount, refund.status, refund.payment_intent) == (12000, "succeeded", intent_id)
    assert again.id == refund.id  # the same request replayed, not a second refund
    assert len(stripe_fake.events_of("refund.created")) == 1
    assert stripe_fake.get(refund.charge)["refunded"] is True
    with pytest.raises(stripe.InvalidRequestError, match="already been refunded") as error:
        stripe.Refund.create(api_key=key, payment_intent=intent_id, idempotency_key="r-other")
    assert error.value.code == "charge_already_refunded"
    listed = stripe.Refund.list(api_key=key, payment_intent=intent_id)
    assert [r.id for r in listed.data] == [refund.id]


def test_a_refund_needs_a_paid_intent(stripe_fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="No such payment_intent"):
        stripe.Refund.create(api_key=stripe_fake.secret_key, payment_intent="pi_nothing")
