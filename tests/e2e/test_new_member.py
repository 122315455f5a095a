"""A new member: sign up, verify by the emailed link, find a circle, accept, ask to join."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from circles import services
from circles.models import AgreementAcceptance, Circle, Membership
from tests.circles.conftest import make_circle
from tests.conftest import PASSWORD
from tests.e2e.conftest import Journey

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_new_member_signs_up_verifies_finds_a_circle_and_asks_to_join(journey: Journey) -> None:
    wanted = make_circle(
        name="Mission Tuesday Circle",
        slug="mission-tuesday",
        weekday=1,
        location_kind=Circle.LocationKind.ONLINE,
    )
    services.agreement_publish(circle=wanted, text="What is said here stays here.")
    make_circle(name="Saturday Park Circle", slug="saturday-park", weekday=5)
    page = journey.page

    journey.goto("/", "landing page")
    page.get_by_role("button", name="Create an account").click()
    journey.check("sign-up form")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Full name").fill("Sam Newman")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    journey.check("check your email")
    assert not User.objects.get(email="sam@example.com").is_verified

    # The link in the email leads back to this very site.
    (email,) = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    link = re.search(r"https?://\S+/accounts/verify/\S+/", email.body)[0]
    assert link.startswith(journey.site + "/"), link
    page.goto(link)
    journey.check("verify your address")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).not_to_have_url(re.compile("/accounts/verify/"))
    journey.check("verified and signed in")
    assert User.objects.get(email="sam@example.com").is_verified

    page.goto(journey.site + "/circles/")
    journey.check("directory")
    expect(page.get_by_role("link", name="Saturday Park Circle")).to_be_visible()
    page.get_by_label("Day").select_option("Tuesday")
    page.get_by_label("Meets").select_option("Online")
    page.get_by_label("Has open seats").check()
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"weekday=1.*kind=online.*open_seats=on"))
    expect(page.get_by_role("link", name="Saturday Park Circle")).to_have_count(0)
    journey.check("directory filtered")
    page.get_by_role("link", name="Mission Tuesday Circle").click()
    journey.check("circle page")

    page.get_by_role("button", name="Ask to join").click()
    expect(page.get_by_text("What is said here stays here.")).to_be_visible()
    journey.check("the agreements")
    # Asking without accepting is refused before anything is sent.
    accept = page.get_by_label("I have read these agreements and will keep them.")
    page.get_by_role("button", name="Ask to join").click()
    assert accept.evaluate("box => box.validity.valueMissing")
    expect(page).to_have_url(re.compile("/join/$"))
    assert not Membership.objects.filter(user__email="sam@example.com").exists()
    accept.check()
    page.get_by_role("button", name="Ask to join").click()
    expect(page).to_have_url(journey.site + wanted.get_absolute_url())
    expect(page.get_by_role("status").first).to_contain_text("request is sent")
    expect(page.get_by_text("usually answers within 3 days")).to_be_visible()
    journey.check("asked to join")

    membership = Membership.objects.get(user__email="sam@example.com", circle=wanted)
    assert membership.status == Membership.Status.REQUESTED
    assert AgreementAcceptance.objects.filter(
        user__email="sam@example.com", agreement__circle=wanted, agreement__version=1
    ).exists()
