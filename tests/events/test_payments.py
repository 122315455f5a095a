"""Paying for an event against the fake Stripe: hold, Checkout, the verified webhook, refunds."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from accounts.models import User
from events import payments, services
from events.models import Event, Registration, TicketTier
from events.templatetags.events import moment_text
from tests.billing.conftest import deliver
from tests.circles.conftest import make_verified
from tests.conftest import committed, signed_in
from tests.events.conftest import make_event
from tests.fakes import stripe as stripe_module

stripe_fake = stripe_module.stripe_fake

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def retreat(db: None) -> Event:
    event = make_event(title="Weekend retreat", capacity=2)
    for position, (name, amount) in enumerate(
        [("Supported", 9000), ("Standard", 15000), ("Sponsor", 25000)]
    ):
        TicketTier.objects.create(event=event, name=name, amount_cents=amount, position=position)
    return event


@pytest.fixture
def man(db: None) -> User:
    return make_verified("dan@example.com", full_name="Dan Payer")


def standard(event: Event) -> TicketTier:
    return event.tiers.get(name="Standard")


def hold(event: Event, user: User) -> Registration:
    registration = services.register(event=event, user=user, tier=standard(event))
    assert registration.status == Registration.Status.HELD
    return registration


def go_to_checkout(client: Client, event: Event, fake) -> str:
    """POST the pay page's button, follow nothing; return the Checkout Session's id."""
    response = client.post(f"/events/{event.slug}/checkout/")
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(f"{fake.base_url}/checkout/")
    return response["Location"].rsplit("/", 1)[1]


def refresh(registration: Registration) -> Registration:
    registration.refresh_from_db()
    return registration


# --- Paying ----------------------------------------------------------------------------------


def test_checkout_then_signed_webhook_confirms_him_once(retreat: Event, man: User, stripe_fake):
    registration = hold(retreat, man)
    client = signed_in(man)
    page = client.get(f"/events/{retreat.slug}/pay/").content.decode()
    assert "$150" in page
    until = moment_text(retreat, registration.hold_expires_at)
    assert f"<strong>{until}</strong>" in page and "New York time" in until

    session_id = go_to_checkout(client, retreat, stripe_fake)

    created = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[-1]["params"]
    assert created["mode"] == "payment"
    assert created["metadata"] == {
        "purpose": "event_registration",
        "reference": str(registration.pk),
        "user_id": str(man.pk),
    }
    price = stripe_fake.get(created["line_items"][0]["price"])
    assert (price["unit_amount"], price["type"]) == (15000, "one_time")
    assert standard(retreat).stripe_price_id == price["id"]
    assert refresh(registration).checkout_session_id == session_id
    waiting = client.get(f"/events/{retreat.slug}/paid/").content.decode()
    assert "waiting for confirmation" in waiting
    assert refresh(registration).status == Registration.Status.HELD  # the redirect confirms nothing

    events = stripe_fake.complete_checkout(session_id)
    with committed():
        responses = deliver(Client(), stripe_fake, events)
        replayed = deliver(Client(), stripe_fake, events)

    assert [r.status_code for r in responses + replayed] == [200] * 4
    registration = refresh(registration)
    assert (registration.status, registration.payment) == ("confirmed", "paid")
    assert registration.payment_intent_id == events[1]["data"]["object"]["payment_intent"]
    assert registration.amount_cents == 15000
    assert registration.hold_expires_at is None
    assert stripe_fake.requests_to("POST", "/v1/refunds") == []
    assert "is confirmed" in client.get(f"/events/{retreat.slug}/paid/").content.decode()


def test_a_tier_gets_one_stripe_price_however_many_pay(retreat: Event, man: User, stripe_fake):
    other = make_verified("eli@example.com")
    hold(retreat, man)
    hold(retreat, other)

    go_to_checkout(signed_in(man), retreat, stripe_fake)
    go_to_checkout(signed_in(other), retreat, stripe_fake)

    assert len(stripe_fake.requests_to("POST", "/v1/prices")) == 1


def test_going_to_checkout_again_closes_the_first_session(retreat, man, stripe_fake):
    hold(retreat, man)
    client = signed_in(man)
    first = go_to_checkout(client, retreat, stripe_fake)
    second = go_to_checkout(client, retreat, stripe_fake)

    assert first != second
    assert stripe_fake.get(first)["status"] == "expired"
    # Stripe's news of the first session's expiry does not release his hold.
    with committed():
        deliver(Client(), stripe_fake, stripe_fake.events_of("checkout.session.expired"))
    assert Registration.objects.get(user=man).status == Registration.Status.HELD


def test_stripe_down_at_checkout_says_so_and_keeps_his_hold(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    stripe_fake.fail_next(5, status=500, should_retry=False)

    response = signed_in(man).post(f"/events/{retreat.slug}/checkout/", follow=True)

    assert payments.STRIPE_DOWN in response.content.decode()
    assert refresh(registration).status == Registration.Status.HELD


def test_checkout_without_stripe_configured_says_how_to_pay(retreat, man, settings):
    settings.STRIPE_SECRET_KEY = ""
    hold(retreat, man)

    response = signed_in(man).post(f"/events/{retreat.slug}/checkout/", follow=True)

    assert escape(payments.NOT_CONFIGURED) in response.content.decode()


# --- Holds that lapse ------------------------------------------------------------------------


def test_a_lapsed_hold_is_released_and_its_seat_offered_to_the_waitlist(
    retreat: Event, man: User, stripe_fake
):
    registration = hold(retreat, man)
    hold(retreat, make_verified("eli@example.com"))
    waiting = services.register(
        event=retreat, user=make_verified("gus@example.com"), tier=standard(retreat)
    )
    assert waiting.status == Registration.Status.WAITLISTED
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    Registration.objects.filter(pk=registration.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )

    with committed():
        call_command("expire_event_holds", stdout=(out := StringIO()))

    assert "1 held seats released" in out.getvalue()
    assert stripe_fake.get(session_id)["status"] == "expired"
    registration = refresh(registration)
    assert (registration.status, registration.payment) == ("cancelled", "pending")
    assert refresh(waiting).status == Registration.Status.OFFERED
    # Run again: nothing more to do.
    call_command("expire_event_holds", stdout=(again := StringIO()))
    assert "0 held seats released" in again.getvalue()


def test_a_hold_paid_in_the_last_moment_waits_for_its_webhook(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    events = stripe_fake.complete_checkout(session_id)
    Registration.objects.filter(pk=registration.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )

    call_command("expire_event_holds", stdout=(out := StringIO()))
    assert "0 held seats released, 1 left" in out.getvalue()
    with committed():
        deliver(Client(), stripe_fake, events)

    assert refresh(registration).status == Registration.Status.CONFIRMED


def test_a_payment_after_he_cancelled_is_refunded_and_sells_no_seat(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    services.cancel(registration=registration)
    hold(retreat, make_verified("eli@example.com"))
    hold(retreat, make_verified("gus@example.com"))  # the event is full again

    # He had paid in another tab before the session could be closed.
    stripe_fake._objects[session_id]["status"] = "open"
    events = stripe_fake.complete_checkout(session_id)
    with committed():
        responses = deliver(Client(), stripe_fake, events)
        deliver(Client(), stripe_fake, events)

    assert [r.status_code for r in responses] == [200, 200]
    registration = refresh(registration)
    assert (registration.status, registration.payment) == ("cancelled", "refunded")
    assert registration.refunded_at is not None
    assert len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1
    assert retreat.registrations.holding_seats().count() == 2


# --- Free places -----------------------------------------------------------------------------


def test_a_free_place_keeps_his_seat_until_an_organiser_grants_it(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)

    response = signed_in(man).post(
        f"/events/{retreat.slug}/free-place/", {"reason": "Out of work since spring."}
    )

    assert response.status_code == 302
    registration = refresh(registration)
    assert registration.payment == Registration.Payment.FREE_PLACE_REQUESTED
    assert registration.free_place_reason == "Out of work since spring."
    assert registration.hold_expires_at is None
    assert stripe_fake.get(session_id)["status"] == "expired"  # nothing can be paid on it now
    call_command("expire_event_holds", stdout=StringIO())
    assert refresh(registration).status == Registration.Status.HELD

    with committed():
        payments.free_place_decide(registration=registration, approve=True)

    registration = refresh(registration)
    assert (registration.status, registration.payment) == ("confirmed", "free_place")
    with pytest.raises(payments.PaymentError, match="not waiting"):
        payments.free_place_decide(registration=registration, approve=False)


def test_a_declined_free_place_passes_the_seat_on(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    hold(retreat, make_verified("eli@example.com"))
    waiting = services.register(
        event=retreat, user=make_verified("gus@example.com"), tier=standard(retreat)
    )
    payments.free_place_request(registration=registration, reason="Two kids, one income.")

    with committed():
        payments.free_place_decide(registration=registration, approve=False)

    assert refresh(registration).status == Registration.Status.CANCELLED
    assert refresh(waiting).status == Registration.Status.OFFERED


@pytest.mark.parametrize(
    ("reason", "message"),
    [("   ", payments.REASON_NEEDED), ("x" * 501, payments.REASON_TOO_LONG)],
)
def test_a_free_place_needs_a_short_reason(retreat, man, reason, message):
    registration = hold(retreat, man)

    response = signed_in(man).post(f"/events/{retreat.slug}/free-place/", {"reason": reason})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert refresh(registration).payment == Registration.Payment.PENDING


# --- Refunds ---------------------------------------------------------------------------------


def _paid(event: Event, user: User, fake) -> Registration:
    registration = hold(event, user)
    events = fake.complete_checkout(go_to_checkout(signed_in(user), event, fake))
    with committed():
        deliver(Client(), fake, events)
    registration = refresh(registration)
    assert registration.payment == Registration.Payment.PAID
    return registration


def test_cancelling_the_event_refunds_each_payment_once(retreat, man, stripe_fake):
    first = _paid(retreat, man, stripe_fake)
    second = _paid(retreat, make_verified("eli@example.com"), stripe_fake)

    with committed():
        payments.event_cancel(event=retreat)
    call_command("issue_event_refunds", stdout=(out := StringIO()))

    assert "0 registrations refunded, 0 failed" in out.getvalue()  # all done at cancellation
    refunds = stripe_fake.requests_to("POST", "/v1/refunds")
    assert sorted(r["params"]["payment_intent"] for r in refunds) == sorted(
        [first.payment_intent_id, second.payment_intent_id]
    )
    assert {r["idempotency_key"] for r in refunds} == {
        f"event-registration-{first.pk}-refund",
        f"event-registration-{second.pk}-refund",
    }
    for registration in (first, second):
        registration = refresh(registration)
        assert registration.payment == Registration.Payment.REFUNDED
        assert registration.refunded_at is not None
    assert len(stripe_fake.events_of("refund.created")) == 2


def test_a_refund_stripe_refused_is_issued_by_the_command(retreat, man, stripe_fake):
    registration = _paid(retreat, man, stripe_fake)
    stripe_fake.fail_next(1, status=500, should_retry=False)

    with committed():
        payments.event_cancel(event=retreat)

    assert refresh(registration).refunded_at is None
    call_command("issue_event_refunds", stdout=(out := StringIO()))
    assert "1 registrations refunded, 0 failed" in out.getvalue()
    assert refresh(registration).payment == Registration.Payment.REFUNDED
    call_command("issue_event_refunds", stdout=(again := StringIO()))
    assert "0 registrations refunded" in again.getvalue()
    assert len(stripe_fake.events_of("refund.created")) == 1


def test_the_command_fails_loudly_while_refunds_stay_owed(retreat, man, stripe_fake):
    registration = _paid(retreat, man, stripe_fake)
    Event.objects.filter(pk=retreat.pk).update(status=Event.Status.CANCELLED)  # set in the admin
    stripe_fake.fail_next(1, status=500, should_retry=False)

    with pytest.raises(CommandError, match="1 refunds failed"):
        call_command("issue_event_refunds", stdout=StringIO())

    assert refresh(registration).refunded_at is None


def test_he_cancelling_his_paid_seat_is_refunded(retreat, man, stripe_fake):
    registration = _paid(retreat, man, stripe_fake)

    with committed():
        services.cancel(registration=registration)

    assert refresh(registration).payment == Registration.Payment.REFUNDED
    assert len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1


def test_cancelling_while_at_checkout_closes_his_session(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)

    with committed():
        services.cancel(registration=registration)

    assert stripe_fake.get(session_id)["status"] == "expired"


def test_a_released_hold_asks_stripe_to_close_its_session_once(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    Registration.objects.filter(pk=registration.pk).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )

    with committed():
        call_command("expire_event_holds", stdout=StringIO())

    path = f"/v1/checkout/sessions/{session_id}/expire"
    assert len(stripe_fake.requests_to("POST", path)) == 1


def test_paying_twice_in_two_tabs_refunds_the_second_payment(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    client = signed_in(man)
    first = go_to_checkout(client, retreat, stripe_fake)
    second = go_to_checkout(client, retreat, stripe_fake)
    # A double click: both requests opened a session before either could close the other.
    stripe_fake._objects[first]["status"] = "open"
    first_events = stripe_fake.complete_checkout(first)
    second_events = stripe_fake.complete_checkout(second)

    with committed():
        deliver(Client(), stripe_fake, first_events)
        deliver(Client(), stripe_fake, second_events)

    registration = refresh(registration)
    assert (registration.status, registration.payment) == ("confirmed", "paid")
    assert registration.checkout_session_id == first
    refunds = stripe_fake.requests_to("POST", "/v1/refunds")
    assert [r["params"]["payment_intent"] for r in refunds] == [
        stripe_fake.get(second)["payment_intent"]
    ]


def test_a_refund_stripe_cannot_make_in_the_webhook_is_asked_for_again(retreat, man, stripe_fake):
    registration = hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    services.cancel(registration=registration)
    stripe_fake._objects[session_id]["status"] = "open"
    events = stripe_fake.complete_checkout(session_id)
    deliver(Client(), stripe_fake, events[:1])
    stripe_fake.fail_next(1, status=500, should_retry=False)

    failed = deliver(Client(), stripe_fake, events[1:])
    assert failed[0].status_code == 503  # nothing kept: Stripe sends it again
    assert refresh(registration).payment == Registration.Payment.PENDING
    again = deliver(Client(), stripe_fake, events[1:])

    assert again[0].status_code == 200
    assert refresh(registration).payment == Registration.Payment.REFUNDED
    assert len(stripe_fake.events_of("refund.created")) == 1


def test_a_payment_for_a_deleted_account_is_refunded(retreat, man, stripe_fake):
    hold(retreat, man)
    session_id = go_to_checkout(signed_in(man), retreat, stripe_fake)
    events = stripe_fake.complete_checkout(session_id)
    Registration.objects.filter(user=man).delete()  # as his account's deletion cascades

    deliver(Client(), stripe_fake, events)

    refunds = stripe_fake.requests_to("POST", "/v1/refunds")
    assert [r["params"]["payment_intent"] for r in refunds] == [
        events[1]["data"]["object"]["payment_intent"]
    ]


def test_a_tier_whose_amount_changed_gets_a_new_price(retreat, man, stripe_fake):
    hold(retreat, man)
    client = signed_in(man)
    go_to_checkout(client, retreat, stripe_fake)
    first_price = standard(retreat).stripe_price_id
    TicketTier.objects.filter(pk=standard(retreat).pk).update(amount_cents=17500)

    go_to_checkout(client, retreat, stripe_fake)

    tier = standard(retreat)
    assert tier.stripe_price_id != first_price
    assert stripe_fake.get(tier.stripe_price_id)["unit_amount"] == 17500
    created = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[-1]["params"]
    assert created["line_items"][0]["price"] == tier.stripe_price_id


def test_a_price_id_stripe_does_not_know_is_replaced(retreat, man, stripe_fake):
    TicketTier.objects.filter(event=retreat).update(stripe_price_id="price_typo")
    hold(retreat, man)

    go_to_checkout(signed_in(man), retreat, stripe_fake)

    assert stripe_fake.get(standard(retreat).stripe_price_id)["unit_amount"] == 15000


def test_the_command_makes_the_missing_prices(retreat, stripe_fake):
    call_command("event_ticket_prices", stdout=(out := StringIO()))

    assert "3 ticket prices made in Stripe, 0 failed." in out.getvalue()
    amounts = sorted(stripe_fake.get(t.stripe_price_id)["unit_amount"] for t in retreat.tiers.all())
    assert amounts == [9000, 15000, 25000]
    call_command("event_ticket_prices", stdout=(again := StringIO()))
    assert "0 ticket prices made" in again.getvalue()
