"""Done when: a member with data in every app deletes his account, and a pg_dump of
either database holds neither his email, his full name nor his phone number.

The data is committed (a transactional test), so the real `pg_dump` sees it;
the dump taken before the deletion must hold all three, or the test proves
nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta

import pytest
import stripe
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connections
from django.test import Client
from django.utils import timezone
from djstripe.models import Customer

from accounts import two_factor
from accounts.models import GoogleIdentity, PhoneChallenge, RevokedToken, User
from accounts.tasks import password_reset_request
from billing.models import DuesTier, OfflinePayment, Scholarship
from circles import broadcasts, services
from circles.models import RSVP, Attendance, FacilitatorNote, Membership
from notifications.models import Notification, SmsOptOut
from tests.billing.conftest import deliver
from tests.circles.conftest import join, make_circle, make_facilitator, make_meeting, make_verified
from tests.conftest import PASSWORD, give_authenticator, signed_in
from tests.fakes.stripe import FakeStripe, stripe_fake  # noqa: F401  (fixture)

EMAIL = "bartholomew.quigley@example.org"
NAME = "Bartholomew Quigley"
PHONE = "+14155550177"
NEEDLES = (EMAIL, NAME, PHONE)


def pg_dump(alias: str) -> str:
    """The whole database as `pg_dump` writes it (schema and data, plain SQL)."""
    binary = shutil.which("pg_dump")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pg_dump is not installed (the PostgreSQL client)")
        pytest.skip("pg_dump is not installed (the PostgreSQL client)")
    db = connections[alias].settings_dict
    command = [binary, "--no-owner", "--host", db["HOST"] or "127.0.0.1"]
    command += ["--port", str(db["PORT"] or 5432), "--username", db["USER"], db["NAME"]]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def found(dump: str) -> set[str]:
    return {needle for needle in NEEDLES if needle in dump}


def a_member_with_data_everywhere(fake: FakeStripe, settings) -> dict:
    member = make_verified(EMAIL, full_name=NAME, phone=PHONE, display_name="Bart")
    # --- accounts (both databases)
    GoogleIdentity.objects.create(user_id=member.pk, sub="google-bart", email=EMAIL)
    RevokedToken.objects.create(
        jti="jti-bart", user_id=member.pk, expires_at=timezone.now() + timedelta(days=1)
    )
    give_authenticator(member)
    two_factor.recovery_codes_make(user=member)
    PhoneChallenge.objects.create(
        user_id=member.pk,
        phone=PHONE,
        code_hash="0" * 64,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    # --- circles: a seat in a full circle with a man waiting, a request elsewhere
    circle = make_circle(name="Harbour Thursday", capacity=3)
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    fred = make_facilitator("fred@example.com", circle)
    oli = make_verified("oli@example.com", full_name="Oli Other")
    join(oli, circle)
    join(member, circle)
    services.agreement_accept(user=member, circle=circle, version=1)
    waiting = make_verified("wes@example.com", full_name="Wes Waiting")
    services.membership_request(circle=circle, user=waiting, agreement_version=1)
    past, upcoming = make_meeting(circle, in_days=-7), make_meeting(circle, in_days=3)
    services.attendance_prefill(meeting=past)
    services.rsvp_set(meeting=upcoming, user=member, response="yes", channel="web")
    services.calendar_feed_create(user=member)
    FacilitatorNote.objects.create(
        author_id=fred.pk, member_id=member.pk, circle_id=circle.pk, text=f"{NAME} is grieving."
    )
    other_circle = make_circle(name="Canal Monday")
    make_facilitator("gil@example.com", other_circle)
    services.membership_request(circle=other_circle, user=member, agreement_version=None)
    broadcasts.broadcast_send(
        circle=circle,
        sender=fred,
        title="Welcome",
        text=f"Please welcome {NAME} ({EMAIL}, {PHONE}).",
        channels=["email"],
    )
    # --- notifications: his number once said STOP
    SmsOptOut.objects.create(phone=PHONE)
    # --- billing: Stripe dues with his address, a scholarship, a cash payment
    price = fake.add_price(1500, nickname="Standard")
    tier = DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id=price["id"])
    client = signed_in(member)
    session_id = client.post(f"/billing/checkout/{tier.pk}/")["Location"].rsplit("/", 1)[1]
    events = fake.complete_checkout(session_id)
    deliver(Client(), fake, events)
    customer_id = Customer.objects.get(subscriber=member).id
    stripe.Customer.modify(
        customer_id,
        address={"line1": "17 Quiet Harbour Lane", "city": "Portland", "country": "US"},
        phone=PHONE,
        api_key=fake.secret_key,
    )
    deliver(Client(), fake, fake.events_of("customer.updated"))
    deliver(Client(), fake, fake.renew_subscription(events[1]["data"]["object"]["id"]))
    Scholarship.objects.create(user=member, kind="reduced", reason=f"{NAME} lost his job.")
    OfflinePayment.objects.create(
        user=member,
        recorded_by=fred,
        amount_cents=4500,
        method="cash",
        covers_from=date(2026, 1, 1),
        covers_until=date(2026, 3, 31),
        note=f"From {NAME}, by hand",
    )
    # --- the admin log, and the reset page's background-task record
    LogEntry.objects.log_actions(
        fred.pk, [member, Membership.objects.get(user=member, circle=circle)], CHANGE
    )
    immediate = settings.TASKS
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    password_reset_request.enqueue(EMAIL.upper())
    settings.TASKS = immediate
    assert NAME in Notification.objects.get(user=oli, kind="broadcast").body
    return {"member": member, "client": client, "waiting": waiting, "fred": fred, "past": past}


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_after_deletion_neither_database_dump_holds_his_email_name_or_phone(
    stripe_fake: FakeStripe,  # noqa: F811  (the fixture imported above)
    settings,
) -> None:
    data = a_member_with_data_everywhere(stripe_fake, settings)
    before = {alias: found(pg_dump(alias)) for alias in ("default", "creds")}
    assert before == {"default": set(NEEDLES), "creds": set(NEEDLES)}

    response = data["client"].post("/accounts/settings/delete/", {"password": PASSWORD})
    # What Stripe sends afterwards (the cancellation, the deletion) is kept without him.
    news = stripe_fake.events_of("customer.subscription.deleted")
    news += stripe_fake.events_of("customer.deleted")
    assert [r.status_code for r in deliver(Client(), stripe_fake, news)] == [200, 200]

    assert response.status_code == 302
    assert not User.objects.filter(email=EMAIL).exists()
    after = {alias: pg_dump(alias) for alias in ("default", "creds")}
    assert {alias: found(dump) for alias, dump in after.items()} == {
        "default": set(),
        "creds": set(),
    }
    # Not by deleting everything: the others and the books are still there.
    assert data["fred"].email in after["default"]
    assert Membership.objects.get(user=data["waiting"]).has_offer
    assert OfflinePayment.objects.filter(user=None, amount_cents=4500).exists()
    assert data["past"].attendance.filter(user=None).count() == 1
    assert not RSVP.objects.filter(user_id=data["member"].pk).exists()
    assert Attendance.objects.count() == 3
    assert Notification.objects.filter(user=data["waiting"], kind="seat_offered").exists()
