"""Deleting an account ends his dues at Stripe and leaves the books without him."""

from __future__ import annotations

import socket
from datetime import date

import pytest
import stripe
from django.test import Client
from djstripe.models import Customer, Event, Invoice, Subscription

from accounts.models import User
from billing import erasure, stripe_gateway
from billing.models import DuesTier, OfflinePayment, Scholarship
from tests.billing.conftest import deliver
from tests.conftest import PASSWORD, make_user, signed_in
from tests.fakes.stripe import FakeStripe
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

STREET = "17 Quiet Harbour Lane"
PHONE = "+14155550142"


def subscribe(member: User, tier: DuesTier, fake: FakeStripe) -> dict:
    """He pays dues through Checkout, then adds his address and phone in the portal.

    Stripe's events are delivered to our webhook; a renewal follows, so an
    invoice carries his address too. Returns his Stripe ids.
    """
    response = signed_in(member).post(f"/billing/checkout/{tier.pk}/")
    events = fake.complete_checkout(response["Location"].rsplit("/", 1)[1])
    deliver(Client(), fake, events)
    customer_id = Customer.objects.get(subscriber=member).id
    stripe.Customer.modify(
        customer_id,
        address={"line1": STREET, "city": "Portland", "postal_code": "97201", "country": "US"},
        phone=PHONE,
        api_key=fake.secret_key,
    )
    deliver(Client(), fake, fake.events_of("customer.updated")[-1:])
    subscription_id = events[1]["data"]["object"]["id"]
    deliver(Client(), fake, fake.renew_subscription(subscription_id))
    return {"customer": customer_id, "subscription": subscription_id}


def delete(user: User) -> Client:
    client = signed_in(user)
    client.response = client.post("/accounts/settings/delete/", {"password": PASSWORD})
    return client


def books(invoice: Invoice) -> dict:
    """What accounting keeps of an invoice."""
    fields = ("number", "amount_paid", "total", "currency", "status", "created", "lines")
    return {field: invoice.stripe_data.get(field) for field in fields}


def personal(user: User) -> list[str]:
    return [user.email, user.full_name, STREET, PHONE]


def test_deleting_cancels_his_dues_and_deletes_his_stripe_customer(
    member: User, tier: DuesTier, stripe_fake: FakeStripe
) -> None:
    ids = subscribe(member, tier, stripe_fake)
    assert find_in_database("default", [STREET, PHONE]) != []  # the test can fail

    response = delete(member).response

    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
    assert stripe_fake.get(ids["subscription"])["status"] == "canceled"
    deleted = stripe_fake.requests_to("DELETE", f"/v1/customers/{ids['customer']}")
    assert [r["status"] for r in deleted] == [200]


def test_the_books_keep_amounts_and_dates_without_the_person(
    member: User, tier: DuesTier, stripe_fake: FakeStripe
) -> None:
    treasurer = make_user("tess@example.com", full_name="Tess Treasurer", is_staff=True)
    ids = subscribe(member, tier, stripe_fake)
    OfflinePayment.objects.create(
        user=member,
        recorded_by=treasurer,
        amount_cents=4500,
        method="cash",
        covers_from=date(2026, 1, 1),
        covers_until=date(2026, 3, 31),
        note=f"Cash from {member.full_name} at the January meeting",
    )
    Scholarship.objects.create(user=member, kind="reduced", reason="Between jobs.")
    invoices_before = {invoice.id: books(invoice) for invoice in Invoice.objects.all()}
    assert len(invoices_before) == 2

    delete(member)

    invoices_after = {invoice.id: books(invoice) for invoice in Invoice.objects.all()}
    assert invoices_after == invoices_before
    customer = Customer.objects.get(id=ids["customer"])
    assert customer.subscriber is None and customer.date_purged is not None
    payment = OfflinePayment.objects.get()
    assert (payment.user, payment.amount_cents, payment.currency, payment.note) == (
        None,
        4500,
        "usd",
        "",
    )
    assert payment.recorded_by == treasurer
    assert str(payment) == "Cash payment by a deleted account"
    assert not Scholarship.objects.exists()
    assert find_in_database("default", personal(member)) == []
    assert find_in_database("creds", personal(member)) == []


def test_what_stripe_sends_after_the_deletion_is_kept_without_him(
    member: User, tier: DuesTier, stripe_fake: FakeStripe
) -> None:
    ids = subscribe(member, tier, stripe_fake)
    delete(member)

    # Stripe tells us of the cancellation and the deletion, and retries.
    news = stripe_fake.events_of("customer.subscription.deleted") + stripe_fake.events_of(
        "customer.deleted"
    )
    responses = deliver(Client(), stripe_fake, news) + deliver(Client(), stripe_fake, news)

    assert [r.status_code for r in responses] == [200] * 4
    assert Event.objects.filter(id__in=[event["id"] for event in news]).count() == 2
    assert Subscription.objects.get(id=ids["subscription"]).status == "canceled"
    assert find_in_database("default", personal(member)) == []


def test_a_retried_deletion_goes_through_when_stripe_already_deleted_him(
    member: User, tier: DuesTier, stripe_fake: FakeStripe
) -> None:
    ids = subscribe(member, tier, stripe_fake)
    # A first attempt closed him at Stripe, then failed before our commit.
    stripe_gateway.customer_close(ids["customer"])

    response = delete(member).response

    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
    assert find_in_database("default", personal(member)) == []


def _dead_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("outage", ["stripe answers 500", "nothing listens"])
def test_a_stripe_outage_deletes_nothing_and_says_try_again(
    member: User, tier: DuesTier, stripe_fake: FakeStripe, settings, outage: str
) -> None:
    ids = subscribe(member, tier, stripe_fake)
    if outage == "stripe answers 500":
        stripe_fake.fail_next(10, status=500, should_retry=False)
    else:
        settings.STRIPE_API_BASE = stripe.api_base = _dead_port()

    client = delete(member)

    page = client.response.content.decode()
    assert client.response.status_code == 200
    assert erasure.STRIPE_UNREACHABLE in page
    assert client.get("/accounts/settings/").status_code == 200  # still signed in
    assert Customer.objects.get(id=ids["customer"]).subscriber == member
    assert Invoice.objects.filter(customer__subscriber=member).count() == 2
    assert find_in_database("default", [STREET, PHONE]) != []
    assert stripe_fake.get(ids["subscription"])["status"] == "active"
    assert not stripe_fake.requests_to("DELETE", f"/v1/customers/{ids['customer']}")


def test_a_customer_on_record_with_stripe_switched_off_deletes_nothing(
    member: User, tier: DuesTier, stripe_fake: FakeStripe, settings
) -> None:
    subscribe(member, tier, stripe_fake)
    settings.STRIPE_SECRET_KEY = ""

    client = delete(member)

    assert erasure.STRIPE_UNREACHABLE in client.response.content.decode()
    assert User.objects.filter(pk=member.pk).exists()


def test_a_member_who_never_paid_is_deleted_without_asking_stripe(
    member: User, stripe_fake: FakeStripe
) -> None:
    delete(member)

    assert not User.objects.filter(pk=member.pk).exists()
    assert stripe_fake.requests == []


def test_another_members_stripe_records_are_untouched(
    member: User, outsider: User, tier: DuesTier, stripe_fake: FakeStripe
) -> None:
    subscribe(member, tier, stripe_fake)
    theirs = subscribe(outsider, tier, stripe_fake)

    delete(member)

    assert Customer.objects.get(id=theirs["customer"]).subscriber == outsider
    assert find_in_database("default", [outsider.email, outsider.full_name]) != []
    assert stripe_fake.get(theirs["subscription"])["status"] == "active"
    assert Invoice.objects.filter(customer__subscriber=outsider).count() == 2
    invoice = Invoice.objects.filter(customer__subscriber=outsider).first()
    assert invoice.stripe_data["customer_email"] == outsider.email
