from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from djstripe.models import APIKey, Customer, Event

from accounts.models import User
from billing.models import DuesTier
from billing.selectors import dues_status
from billing.views import CHECKOUT_CANCELLED
from notifications.models import Notification
from tests.billing.conftest import deliver
from tests.conftest import committed, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def checkout(member: User, tier: DuesTier, fake) -> str:
    """Choose a tier on /billing/ and follow Stripe's redirect; return the session id."""
    response = signed_in(member).post(f"/billing/checkout/{tier.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith(fake.base_url + "/checkout/")
    return response["Location"].rsplit("/", 1)[1]


def test_tier_checkout_and_webhooks_make_the_member_active(
    member: User, tier: DuesTier, stripe_fake
) -> None:
    session_id = checkout(member, tier, stripe_fake)
    created = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[-1]["params"]
    assert created["mode"] == "subscription"
    assert created["line_items"][0]["price"] == tier.stripe_price_id
    customer = Customer.objects.get(subscriber=member)
    assert created["customer"] == customer.id
    assert dues_status(member).word == "none"
    assert "processing" in signed_in(member).get("/billing/success/").content.decode()

    events = stripe_fake.complete_checkout(session_id)
    responses = deliver(Client(), stripe_fake, events)

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [e["type"] for e in events] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert dues_status(member).word == "active"
    page = signed_in(member).get("/billing/").content.decode()
    assert "Your dues are active." in page
    assert "<td>$15</td>" in page  # the invoice in his history
    assert "Your dues are active." in signed_in(member).get("/dashboard/").content.decode()


def test_replayed_events_change_nothing(member: User, tier: DuesTier, stripe_fake) -> None:
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    deliver(Client(), stripe_fake, events)
    before = (Event.objects.count(), Notification.objects.count(), dues_status(member))

    responses = deliver(Client(), stripe_fake, events)

    assert all(r.status_code == 200 for r in responses)
    assert (Event.objects.count(), Notification.objects.count(), dues_status(member)) == before


def test_a_failed_payment_makes_dues_past_due_and_sends_one_polite_email(
    member: User, tier: DuesTier, stripe_fake
) -> None:
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    deliver(Client(), stripe_fake, events)
    subscription = events[1]["data"]["object"]["id"]
    mail.outbox.clear()

    failed = stripe_fake.fail_invoice(subscription)
    with committed():
        deliver(Client(), stripe_fake, failed)
        deliver(Client(), stripe_fake, failed)  # Stripe retries its webhooks

    assert dues_status(member).word == "past due"
    assert len(mail.outbox) == 1
    assert "did not go through" in mail.outbox[0].subject
    assert "nothing changes in your circle" in mail.outbox[0].body


def test_a_deleted_subscription_makes_dues_cancelled(
    member: User, tier: DuesTier, stripe_fake
) -> None:
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    deliver(Client(), stripe_fake, events)

    cancelled = stripe_fake.cancel_subscription(events[1]["data"]["object"]["id"])
    deliver(Client(), stripe_fake, cancelled)
    deliver(Client(), stripe_fake, cancelled)

    assert dues_status(member).word == "cancelled"


def test_his_dashboard_shows_each_webhook_on_his_next_request(
    member: User, tier: DuesTier, stripe_fake
) -> None:
    """His dues line is cached; dj-stripe's saves of his subscription forget it."""
    client = signed_in(member)
    for _ in range(4):  # until the dashboard and his dues line come from the cache
        before = client.get("/dashboard/").content.decode()
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    assert "Your dues are active." not in client.get("/dashboard/").content.decode()  # not yet
    deliver(Client(), stripe_fake, events)
    paying = client.get("/dashboard/").content.decode()
    assert "Your dues are active." in paying and "Your dues are active." not in before

    deliver(
        Client(), stripe_fake, stripe_fake.cancel_subscription(events[1]["data"]["object"]["id"])
    )
    assert "Your monthly dues have stopped." in client.get("/dashboard/").content.decode()


def test_no_stripe_secret_rests_in_the_main_database(
    member: User, tier: DuesTier, stripe_fake, settings
) -> None:
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    deliver(Client(), stripe_fake, events)
    deliver(Client(), stripe_fake, stripe_fake.fail_invoice(events[1]["data"]["object"]["id"]))
    signed_in(member).post("/billing/portal/")

    secrets = [settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET]
    assert find_in_database("default", secrets) == []
    assert find_in_database("creds", secrets) == []
    assert Customer.objects.filter(subscriber=member).exists()  # the flow did write
    assert not APIKey.objects.exists()  # dj-stripe would have stored the secret key here


def test_the_billing_portal_opens_for_a_customer(member: User, tier: DuesTier, stripe_fake) -> None:
    checkout(member, tier, stripe_fake)

    response = signed_in(member).post("/billing/portal/")

    assert response.status_code == 302
    assert response["Location"].startswith(stripe_fake.base_url + "/portal/")
    params = stripe_fake.requests_to("POST", "/v1/billing_portal/sessions")[-1]["params"]
    assert params["customer"] == Customer.objects.get(subscriber=member).id


def test_the_facilitator_sees_lapsed_dues_as_a_word_only_and_nobody_is_removed(
    member: User, tier: DuesTier, stripe_fake
) -> None:
    from circles.models import Membership
    from tests.circles.conftest import join, make_circle, make_facilitator

    circle = make_circle(name="Dock Street")
    join(member, circle)
    facilitator = make_facilitator("fred@example.com", circle)
    events = stripe_fake.complete_checkout(checkout(member, tier, stripe_fake))
    deliver(Client(), stripe_fake, events)
    deliver(Client(), stripe_fake, stripe_fake.fail_invoice(events[1]["data"]["object"]["id"]))

    page = signed_in(facilitator).get("/admin/circles/circle/at-risk/").content.decode()

    assert "dues past due" in page
    assert member.get_full_name() in page
    assert "15.00" not in page and "1500" not in page
    assert Membership.objects.get(user=member).status == "active"


def test_leaving_checkout_comes_back_to_a_notice_that_nothing_was_charged(
    member: User, tier: DuesTier, stripe_fake, settings
) -> None:
    checkout(member, tier, stripe_fake)
    cancel_url = stripe_fake.requests_to("POST", "/v1/checkout/sessions")[-1]["params"][
        "cancel_url"
    ]
    assert cancel_url == settings.SITE_URL + "/billing/?checkout=cancelled"

    back = signed_in(member).get("/billing/?checkout=cancelled").content.decode()
    plain = signed_in(member).get("/billing/").content.decode()

    assert CHECKOUT_CANCELLED in back
    assert CHECKOUT_CANCELLED not in plain
    assert dues_status(member).word == "none"
