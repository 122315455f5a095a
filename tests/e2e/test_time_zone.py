"""A newcomer's browser tells the sign-up form where he is (static/js/time-zone.js)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import User
from tests.conftest import PASSWORD
from tests.e2e.conftest import VIEWPORTS, Journey

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_newcomer_in_los_angeles_signs_up_in_his_own_time_zone(
    browser: Browser, site: str, screen: str
) -> None:
    context = browser.new_context(
        base_url=site, timezone_id="America/Los_Angeles", **VIEWPORTS[screen]
    )
    try:
        trip = Journey(page=context.new_page(), site=site, name="time_zone", screen=screen)
        page = trip.goto("/accounts/signup/", "sign-up form in Los Angeles")
        expect(page.locator("input[name=time_zone]")).to_have_value("America/Los_Angeles")
        page.get_by_label("Email").fill("lou@example.com")
        page.get_by_label("Full name").fill("Lou Angeles")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password confirmation").fill(PASSWORD)
        page.get_by_role("button", name="Create my account").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        trip.check("check your email")
    finally:
        context.close()

    assert User.objects.get(email="lou@example.com").time_zone == "America/Los_Angeles"
