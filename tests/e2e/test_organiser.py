"""An organiser at the door of his event, on a phone: sign in, check-in one tap per man,
undo a wrong tap, the event page's seat counts. Every page held to the site's rules
(axe, no sideways scroll), at both screen sizes.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from events.models import Answer, Registration
from tests.circles.conftest import make_verified
from tests.conftest import give_authenticator, totp_code
from tests.e2e.conftest import Journey
from tests.e2e.test_facilitator import sign_in_at_the_admin
from tests.events.conftest import add_question, make_event, make_organiser, register_directly

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_an_organiser_checks_men_in_at_the_door(journey: Journey) -> None:
    event = make_event(title="Weekend retreat", capacity=3)
    organiser = make_organiser("olly@example.com", event)
    question = add_question(event, "Dietary needs")
    men = []
    for email, name in [
        ("bob@example.com", "Bob Oakes"),
        ("sam@example.com", "Sam Steady-Longname-Hyphenated"),
        ("wes@example.com", "Wes Waiting"),
    ]:
        men.append(register_directly(event, make_verified(email, full_name=name)))
    Answer.objects.create(registration=men[0], question=question, value="Vegetarian")
    register_directly(
        event, make_verified("walt@example.com", full_name="Walt List"), status="waitlisted"
    )
    device = give_authenticator(organiser)

    page = sign_in_at_the_admin(journey, organiser)
    page.get_by_label("Code").fill(totp_code(device.key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    journey.goto(f"/admin/events/event/{event.pk}/change/", "event page with its seat counts")
    expect(page.locator(".event-counts")).to_contain_text("3 of 3")

    page.get_by_role("link", name="Check-in at the door").click()
    expect(page.locator(".door-count")).to_contain_text("0 of 3 arrived")
    journey.check("the door")
    page.get_by_role("button", name="Bob Oakes arrived").click()
    expect(page.locator(".messagelist")).to_contain_text("Arrived: Bob Oakes.")
    expect(page.locator(".door-count")).to_contain_text("1 of 3 arrived")
    journey.check("one man in")
    page.get_by_role("button", name="Sam Steady-Longname-Hyphenated arrived").click()
    page.get_by_role("button", name="Undo: Sam Steady-Longname-Hyphenated has not arrived").click()
    expect(page.locator(".door-count")).to_contain_text("1 of 3 arrived")

    page.get_by_label("Find a man").fill("wes")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Wes Waiting arrived").click()
    expect(page.locator(".door-count")).to_contain_text("2 of 3 arrived")
    journey.check("found and in")

    arrived = set(
        Registration.objects.filter(event=event, arrived_at__isnull=False).values_list(
            "user__email", flat=True
        )
    )
    assert arrived == {"bob@example.com", "wes@example.com"}

    journey.goto("/admin/events/registration/", "registrations with answers")
    expect(page.get_by_text("Vegetarian")).to_be_visible()
