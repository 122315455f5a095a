"""A treasurer keeps the books from the admin: a new dues tier (its price made in
Stripe), a scholarship approved, a payment in cash recorded.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from billing import services
from billing.models import DuesTier, OfflinePayment, Scholarship
from tests.circles.conftest import make_verified
from tests.conftest import PASSWORD, give_authenticator, totp_code
from tests.e2e.conftest import Journey
from tests.fakes.stripe import stripe_fake  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_treasurer_adds_a_tier_approves_a_scholarship_and_records_a_payment(
    journey: Journey,
    stripe_fake,  # noqa: F811
) -> None:
    treasurer = make_verified("tess@example.com", full_name="Tess Treasurer", is_staff=True)
    treasurer.groups.add(Group.objects.get_or_create(name="Treasurers")[0])
    device = give_authenticator(treasurer)
    asker = make_verified("sam@example.com", full_name="Sam Asker")
    services.scholarship_request(user=asker, kind="waived", reason="Out of work since June.")
    payer = make_verified("carl@example.com", full_name="Carl Cash")

    # Sign in with password and code.
    page = journey.goto("/admin/")
    journey.check("admin sign-in")
    page.get_by_label("Email").fill(treasurer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    journey.check("two-factor code")
    page.get_by_label("Code").fill(totp_code(device.key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    journey.check("admin home")

    # A new tier: no price id, so its monthly price is made in Stripe.
    page.goto(journey.site + "/admin/billing/duestier/add/")
    journey.check("new tier")
    page.get_by_label("Name").fill("Supporter")
    page.get_by_label("Description").fill("Pays a little more so others can pay less.")
    page.get_by_label("Amount cents").fill("4000")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    journey.check("tier added")
    tier = DuesTier.objects.get(name="Supporter")
    (created,) = stripe_fake.requests_to("POST", "/v1/prices")
    price = stripe_fake.get(tier.stripe_price_id)
    assert price["unit_amount"] == 4000 and price["recurring"]["interval"] == "month"
    assert created["params"]["unit_amount"] == "4000"

    # The scholarship request: approve it until a date.
    page.goto(journey.site + "/admin/billing/scholarship/")
    journey.check("scholarships")
    row = page.get_by_role("row").filter(has_text="sam@example.com")
    row.get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("approve")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name="Approve scholarships")).to_be_visible()
    journey.check("approve scholarship")
    until = timezone.localdate() + timedelta(days=90)
    page.get_by_label("Approved until").fill(until.isoformat())
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text("Decided:")
    journey.check("scholarship approved")
    scholarship = Scholarship.objects.get(user=asker)
    assert scholarship.status == Scholarship.Status.APPROVED
    assert scholarship.until == until
    assert scholarship.decided_by == treasurer

    # Carl paid three months in cash.
    page.goto(journey.site + "/admin/billing/offlinepayment/add/")
    journey.check("record a payment")
    # The box lists members as it opens; the search waits for that list, as a
    # man would (typing sooner makes select2 drop its first request).
    with page.expect_response(lambda r: "/member-search/" in r.url):
        page.get_by_role("combobox", name="User").click()
    with page.expect_response(lambda r: "term=Carl" in r.url):
        page.locator(".select2-search__field").fill("Carl")
    page.get_by_role("option", name=re.compile("carl@example.com")).click()
    page.get_by_label("Amount cents").fill("4500")
    page.get_by_label("Method").select_option(label="Cash")
    start = timezone.localdate()
    page.get_by_label("Covers from").fill(start.isoformat())
    page.get_by_label("Covers until").fill((start + timedelta(days=90)).isoformat())
    page.get_by_label("Note").fill("Handed over at the circle")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    journey.check("payment recorded")
    payment = OfflinePayment.objects.get()
    assert (payment.user, payment.amount_cents, payment.method) == (payer, 4500, "cash")
    assert payment.recorded_by == treasurer
    assert payment.covers_until == start + timedelta(days=90)
