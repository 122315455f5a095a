"""A man buys a ticket for a paid event: his held seat, Stripe's hosted page (the fake's), back.

The fake Stripe sends the payment's events, signed, to the live server's
webhook as Stripe would: the page after paying shows him confirmed only
because the verified webhook arrived.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from events import services
from events.models import Registration, TicketTier
from tests.circles.conftest import make_verified
from tests.conftest import PASSWORD
from tests.e2e.conftest import Journey
from tests.e2e.test_dues import check
from tests.events.conftest import make_event
from tests.fakes import stripe as stripe_module

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

stripe_fake = stripe_module.stripe_fake


def test_a_man_pays_for_his_held_seat_and_is_confirmed(
    journey: Journey, stripe_fake, site: str, settings
) -> None:
    settings.CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {stripe_fake.base_url}"
    )
    stripe_fake.webhook_url = f"{site}/stripe/webhook/"
    event = make_event(title="Autumn weekend retreat", capacity=12)
    for position, (name, cents) in enumerate([("Supported", 9000), ("Standard", 15000)]):
        TicketTier.objects.create(event=event, name=name, amount_cents=cents, position=position)
    man = make_verified("dan@example.com", full_name="Dan Payer")
    registration = services.register(event=event, user=man, tier=event.tiers.get(name="Standard"))

    page = journey.goto(f"/accounts/login/?next=/events/{event.slug}/pay/")
    page.locator("#id_username").fill(man.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/pay/$"))
    check(journey, "pay page, seat held")
    expect(page.get_by_role("heading", name="Standard: $150")).to_be_visible()

    page.get_by_role("button", name="Pay $150").click()
    page.wait_for_url(f"{stripe_fake.base_url}/checkout/*")
    expect(page.get_by_text("Total due today: $150.00")).to_be_visible()
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(f"{site}/events/{event.slug}/paid/")
    expect(page.get_by_role("status")).to_contain_text("is confirmed")
    check(journey, "paid, confirmed")
    assert [(d["type"], d["status"]) for d in stripe_fake.deliveries] == [
        ("payment_intent.succeeded", 200),
        ("checkout.session.completed", 200),
    ]
    registration.refresh_from_db()
    assert (registration.status, registration.payment) == ("confirmed", "paid")
    assert registration.amount_cents == 15000
    assert Registration.objects.holding_seats().count() == 1
