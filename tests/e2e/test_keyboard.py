"""Keyboard alone: sign in, ask to join, RSVP, with the focus in sight all the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from circles import services
from circles.models import RSVP, AgreementAcceptance, Membership
from tests.circles.conftest import make_circle
from tests.conftest import PASSWORD
from tests.e2e.conftest import Journey
from tests.e2e.member_steps import FOCUSED, member_with_a_meeting, pressed_looks_different, tab_to

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_member_signs_in_asks_to_join_and_rsvps_with_the_keyboard_alone(
    journey: Journey,
) -> None:
    member, _circle, meeting = member_with_a_meeting()
    second = make_circle(name="Oakland Thursday Circle", slug="oakland-thursday", weekday=3)
    services.agreement_publish(circle=second, text="We start and end on time.")
    page = journey.page
    keys = page.keyboard

    journey.goto("/accounts/login/", "sign-in page")
    tab_to(page, "Email", tag="input")
    keys.type(member.email)
    tab_to(page, "Password", tag="input")
    keys.type(PASSWORD)
    keys.press("Enter")
    expect(page).to_have_url(journey.site + "/dashboard/")
    journey.check("signed in")

    # Signed in, he is on his dashboard; on a phone "Find a circle" is in the menu.
    if page.get_by_role("navigation", name="Main").locator("summary").is_visible():
        tab_to(page, "Menu", tag="summary")
        keys.press("Enter")
    tab_to(page, "Find a circle", tag="a")
    keys.press("Enter")
    expect(page).to_have_url(journey.site + "/circles/")
    journey.check("directory")
    tab_to(page, second.name, tag="a")
    keys.press("Enter")
    expect(page).to_have_url(journey.site + second.get_absolute_url())
    journey.check("circle page")
    tab_to(page, "Ask to join", tag="a")
    keys.press("Enter")
    expect(page.get_by_text("We start and end on time.")).to_be_visible()
    journey.check("join page")
    tab_to(page, "I have read these agreements", tag="input")
    keys.press("Space")
    assert page.evaluate("document.activeElement.checked")
    tab_to(page, "Ask to join", tag="button")
    keys.press("Enter")
    expect(page.get_by_text("usually answers within 3 days")).to_be_visible()
    journey.check("asked to join")
    assert Membership.objects.get(user=member, circle=second).status == "requested"
    assert AgreementAcceptance.objects.filter(user=member, agreement__circle=second).exists()

    # On a phone the dashboard link is in the menu: open it with the keyboard.
    if page.get_by_role("navigation", name="Main").locator("summary").is_visible():
        tab_to(page, "Menu", tag="summary")
        keys.press("Enter")
    tab_to(page, "Dashboard", tag="a")
    keys.press("Enter")
    expect(page).to_have_url(journey.site + "/dashboard/")
    journey.check("dashboard")
    tab_to(page, "Yes", tag="button")
    keys.press("Space")
    expect(page.locator(f"#rsvp-{meeting.pk}-yes")).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(journey.site + "/dashboard/")
    # The swapped-in button keeps the focus, and shows it.
    focused = page.evaluate(FOCUSED)
    assert focused["id"] == f"rsvp-{meeting.pk}-yes", focused
    assert focused["outline"] or focused["shadow"], focused
    assert RSVP.objects.get(meeting=meeting, user=member).response == "yes"
    pressed_looks_different(page, meeting.pk)  # and the colours have settled
    journey.check("answered yes")
