"""Every page a member's journeys visit, on the narrowest phones and in the dark.

No sideways scrolling at 360 and 390 px, fingertip-sized controls, forms in
one column, and the site-wide checks (axe-core included) on each page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page

from accounts import services as account_services
from circles.models import Circle
from tests.circles.conftest import make_circle
from tests.conftest import make_user
from tests.e2e.conftest import Journey
from tests.e2e.member_steps import member_with_a_meeting, sign_in, too_small

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# What a man taps: buttons, button-like links, form fields, checkbox labels.
TARGETS = ", ".join(
    [
        "main button",
        "main [role=button]",
        "main input:not([type=hidden]):not([type=checkbox])",
        "main select",
        "main label:has(> input[type=checkbox])",
        "header summary",
        "header details[open] a",
        "header details[open] button",
    ]
)


def phone(browser: Browser, site: str, width: int, **options: object) -> Page:
    context = browser.new_context(
        base_url=site,
        viewport={"width": width, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        **options,
    )
    return context.new_page()


def one_column(page: Page) -> list[str]:
    """Form fields that share a line with another field (side by side)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main form')].flatMap(form => {
            const fields = [...form.querySelectorAll(
                'input:not([type=hidden]):not([type=checkbox]), select, textarea')]
                .filter(e => e.offsetParent !== null && !e.closest('table'));
            const tops = fields.map(e => Math.round(e.getBoundingClientRect().top));
            return fields.filter((e, i) => tops.indexOf(tops[i]) !== i).map(e => e.name);
        })"""
    )


def check_here(trip: Journey, step: str) -> None:
    page = trip.page
    trip.check(step)
    assert too_small(page, TARGETS) == [], f"{step}: too small to tap"
    assert one_column(page) == [], f"{step}: fields side by side"
    menu = page.locator("header details.dropdown")
    if menu.is_visible():
        # The menu open: its links too must fit the screen and a finger.
        page.locator("header summary").click()
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{step}: the open menu is {width[0]} px wide"
        assert too_small(page, TARGETS) == [], f"{step}: menu items too small to tap"
        page.locator("header summary").click()


@pytest.mark.parametrize("width", [360, 390])
def test_every_member_page_fits_a_narrow_phone(browser: Browser, site: str, width: int) -> None:
    member, circle, meeting = member_with_a_meeting()
    other = make_circle(name="Oakland Thursday Circle", slug="oakland-thursday", weekday=3)
    newcomer = make_user("sam@example.com", full_name="Sam Newman")
    token = account_services.verification_token(newcomer)
    page = phone(browser, site, width)
    trip = Journey(page=page, site=site, name="narrow_phone", screen=f"{width}px")

    visitor_pages = {
        "landing page": "/",
        "directory": "/circles/",
        "circle page": circle.get_absolute_url(),
        "sign-up": "/accounts/signup/",
        "sign-up done": "/accounts/signup/done/",
        "verify": f"/accounts/verify/{token}/",
        "sign-in": "/accounts/login/",
    }
    for step, path in visitor_pages.items():
        trip.goto(path)
        check_here(trip, step)

    sign_in(trip, member.email)
    member_pages = {
        "dashboard": "/dashboard/",
        "his circle": circle.get_absolute_url(),
        "join another": Circle.objects.get(pk=other.pk).get_absolute_url() + "join/",
        "meeting": meeting.get_absolute_url(),
        "calendar": "/calendar/",
        "settings": "/accounts/settings/",
    }
    for step, path in member_pages.items():
        trip.goto(path)
        check_here(trip, step)
    page.context.close()


@pytest.mark.parametrize("path", ["/", "/circles/", "/dashboard/", "/accounts/settings/"])
def test_pages_read_well_in_the_dark(browser: Browser, site: str, path: str) -> None:
    """axe-core's contrast check, with the phone set to a dark colour scheme."""
    member, _circle, _meeting = member_with_a_meeting()
    page = phone(browser, site, 390, color_scheme="dark")
    where = path.strip("/").replace("/", "-") or "home"
    trip = Journey(page=page, site=site, name="dark", screen=where)
    sign_in(trip, member.email)
    trip.goto(path)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    # Pico follows the scheme: the page is really dark, not light with dark claims.
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
    assert red + green + blue < 150, background
    trip.check("dark")
    page.context.close()
