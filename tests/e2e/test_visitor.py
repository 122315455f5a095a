"""A visitor who has not signed up: the landing page, the directory, signing in."""

from __future__ import annotations

from datetime import time

import pytest
from playwright.sync_api import Browser, expect

from circles.models import Circle
from circles.paging import PAGE_SIZE
from tests.circles.conftest import make_circle
from tests.e2e.conftest import VIEWPORTS, Journey

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_visitor_finds_the_directory_and_the_sign_in_page(journey: Journey) -> None:
    make_circle(name="Mission Tuesday Circle", slug="mission-tuesday")

    page = journey.goto("/", "landing page")
    # The landing page's call to action: on a phone the menu holds the nav link.
    page.get_by_role("button", name="Find a circle").click()
    journey.check("directory")
    page.get_by_role("link", name="Mission Tuesday Circle").click()
    journey.check("circle page")


def _thirty_circles() -> None:
    Circle.objects.bulk_create(
        Circle(
            name=f"Circle {n:02}",
            slug=f"circle-{n:02}",
            weekday=n % 7,
            start_time=time(19),
            status=Circle.Status.OPEN,
            public_area="Mission, San Francisco",
        )
        for n in range(30)
    )


def test_a_visitor_asks_for_more_circles_and_they_are_added_below(journey: Journey) -> None:
    _thirty_circles()

    page = journey.goto("/circles/", "directory, first page")
    expect(page.locator("article")).to_have_count(PAGE_SIZE)
    page.get_by_role("button", name="More circles").click()

    expect(page.locator("article")).to_have_count(30)
    expect(page.get_by_role("button", name="More circles")).to_have_count(0)
    expect(page).to_have_url(journey.site + "/circles/")  # appended, not a new page
    headings = page.locator("article h2").all_inner_texts()
    assert headings == [f"Circle {n:02}" for n in range(30)]
    journey.check("more circles added")

    page.get_by_label("Search").fill("circle 2")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("article")).to_have_count(10)  # "2" starts 20 to 29, not 02
    journey.check("directory searched")


def test_without_javascript_a_phone_pages_through_the_directory(
    browser: Browser, site: str
) -> None:
    _thirty_circles()
    context = browser.new_context(base_url=site, java_script_enabled=False, **VIEWPORTS["phone"])
    page = context.new_page()
    try:
        page.goto(site + "/circles/?kind=in_person")
        expect(page.locator("article")).to_have_count(PAGE_SIZE)

        page.get_by_role("link", name="Next page").click()

        expect(page).to_have_url(site + "/circles/?kind=in_person&page=2")
        expect(page.locator("article")).to_have_count(10)
        assert page.locator("article h2").first.inner_text() == "Circle 20"
        width = page.locator("body").bounding_box()["width"]
        assert width <= 390
        page.get_by_role("link", name="Previous page").click()
        expect(page).to_have_url(site + "/circles/?kind=in_person&page=1")
        expect(page.locator("article")).to_have_count(PAGE_SIZE)
    finally:
        context.close()
