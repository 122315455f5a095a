"""The fake Stripe's hosted Checkout page, driven over HTTP as a browser would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from tests.fakes import stripe as stripe_module
from tests.fakes.stripe import FakeStripe

stripe_fake = stripe_module.stripe_fake

SUCCESS = "https://mensc.test/billing/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "https://mensc.test/billing/?checkout=cancelled"


@dataclass
class Receiver:
    """A webhook endpoint: keeps what it is sent and answers `status`."""

    url: str = ""
    status: int = 200
    received: list[tuple[bytes, str]] = field(default_factory=list)  # (body, Stripe-Signature)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            endpoint.received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(endpoint.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook/"
    yield endpoint
    server.shutdown()
    server.server_close()


def _session(fake: FakeStripe, *, cancel_url: str | None = CANCEL) -> stripe.checkout.Session:
    price = fake.add_price(1500, nickname="Standard", product_name="Standard dues")
    customer = stripe.Customer.create(api_key=fake.secret_key, email="bob@example.com")
    extra = {"cancel_url": cancel_url} if cancel_url else {}
    return stripe.checkout.Session.create(
        api_key=fake.secret_key,
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": price["id"], "quantity": 1}],
        success_url=SUCCESS,
        **extra,
    )


def test_the_page_shows_the_amount_and_both_controls(stripe_fake: FakeStripe) -> None:
    session = _session(stripe_fake)

    page = requests.get(session.url, timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Standard dues: $15.00 a month" in page.text
    assert "Total due today: <strong>$15.00</strong>" in page.text
    assert f'action="/checkout/{session.id}/pay"' in page.text
    assert f'action="/checkout/{session.id}/cancel"' in page.text
    assert ">Pay</button>" in page.text and ">Cancel</button>" in page.text


def test_pay_completes_the_session_sends_signed_events_and_returns_to_success(
    stripe_fake: FakeStripe, receiver: Receiver
) -> None:
    stripe_fake.webhook_url = receiver.url
    session = _session(stripe_fake)

    answer = requests.post(f"{session.url}/pay", timeout=30, allow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["Location"] == SUCCESS.replace("{CHECKOUT_SESSION_ID}", session.id)
    events = [
        stripe.Webhook.construct_event(body, signature, stripe_fake.webhook_secret)
        for body, signature in receiver.received
    ]
    assert [e.type for e in events] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert events[0].data.object.id == session.id
    assert [(d["type"], d["status"]) for d in stripe_fake.deliveries] == [
        (e.type, 200) for e in events
    ]
    # The same state as complete_checkout leaves, readable through the API.
    completed = stripe.checkout.Session.retrieve(session.id, api_key=stripe_fake.secret_key)
    assert (completed.status, completed.payment_status) == ("complete", "paid")
    subscription = stripe.Subscription.retrieve(
        completed.subscription, api_key=stripe_fake.secret_key
    )
    assert subscription.status == "active"
    assert json.loads(receiver.received[2][0])["data"]["object"]["amount_paid"] == 1500


def test_a_delivery_the_endpoint_refuses_is_recorded_and_the_member_still_returns(
    stripe_fake: FakeStripe, receiver: Receiver
) -> None:
    stripe_fake.webhook_url = receiver.url
    receiver.status = 400
    session = _session(stripe_fake)

    answer = requests.post(f"{session.url}/pay", timeout=30, allow_redirects=False)

    assert answer.status_code == 303
    assert [d["status"] for d in stripe_fake.deliveries] == [400, 400, 400]


def test_without_a_webhook_url_pay_keeps_the_events_in_the_fake(stripe_fake: FakeStripe) -> None:
    session = _session(stripe_fake)

    answer = requests.post(f"{session.url}/pay", timeout=30, allow_redirects=False)

    assert answer.status_code == 303
    assert stripe_fake.deliveries == []
    assert stripe_fake.events_of("checkout.session.completed")[0]["data"]["object"]["id"] == (
        session.id
    )


def test_cancel_returns_to_cancel_url_and_leaves_the_session_open(
    stripe_fake: FakeStripe, receiver: Receiver
) -> None:
    stripe_fake.webhook_url = receiver.url
    session = _session(stripe_fake)

    answer = requests.post(f"{session.url}/cancel", timeout=5, allow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["Location"] == CANCEL
    assert receiver.received == []
    assert stripe_fake.get(session.id)["status"] == "open"
    assert stripe_fake.events_of("checkout.session.completed") == []
    assert stripe_fake.events_of("invoice.paid") == []
    assert requests.get(session.url, timeout=5).status_code == 200  # he may come back


def test_a_session_without_cancel_url_offers_no_cancel(stripe_fake: FakeStripe) -> None:
    session = _session(stripe_fake, cancel_url=None)

    assert ">Cancel</button>" not in requests.get(session.url, timeout=5).text
    assert requests.post(f"{session.url}/cancel", timeout=5).status_code == 404


@pytest.mark.parametrize("ending", ["paid", "expired"])
def test_an_ended_session_is_a_404_page(stripe_fake: FakeStripe, ending: str) -> None:
    session = _session(stripe_fake)
    if ending == "paid":
        stripe_fake.complete_checkout(session.id)
    else:
        stripe_fake.expire_checkout(session.id)

    page = requests.get(session.url, timeout=5)
    pay_again = requests.post(f"{session.url}/pay", timeout=5, allow_redirects=False)

    assert page.status_code == 404
    assert "This session has ended." in page.text
    assert pay_again.status_code == 404
    assert len(stripe_fake.events_of("customer.subscription.created")) == (ending == "paid")


def test_an_unknown_session_or_action_is_refused(stripe_fake: FakeStripe) -> None:
    session = _session(stripe_fake)

    assert requests.get(f"{stripe_fake.base_url}/checkout/cs_test_nope", timeout=5).status_code == (
        404
    )
    assert requests.get(f"{session.url}/pay", timeout=5).status_code == 405
    assert requests.post(f"{session.url}/refund", timeout=5).status_code == 405
    assert stripe_fake.get(session.id)["status"] == "open"
