"""Steps a member's journeys share: the people, signing in, the menu, tap sizes."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import User
from circles import services
from circles.models import Circle, Meeting
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD
from tests.e2e.conftest import Journey

# WCAG 2.5.5: a finger needs a target at least this big (CSS pixels).
TAP = 44


def member_with_a_meeting() -> tuple[User, Circle, Meeting]:
    """A verified member of a circle who accepted its agreements, with a meeting ahead."""
    circle = make_circle(name="Mission Tuesday Circle", slug="mission-tuesday")
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    member = make_verified("ben@example.com", full_name="Ben Member")
    join(member, circle)
    services.agreement_accept(user=member, circle=circle, version=1)
    return member, circle, make_meeting(circle, in_days=3)


def sign_in(journey: Journey, email: str, *, page: Page | None = None) -> None:
    """Through the sign-in page, as he would; lands on his dashboard."""
    page = page or journey.page
    page.goto(journey.site + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(journey.site + "/dashboard/")


def follow_nav(page: Page, name: str) -> None:
    """Follow a link of the main navigation: on a phone it is inside the menu."""
    nav = page.get_by_role("navigation", name="Main")
    menu = nav.locator("summary", has_text="Menu")
    if menu.is_visible():
        menu.click()
    nav.get_by_role("link", name=name).click()


def too_small(page: Page, selector: str) -> list[str]:
    """Every visible element matching `selector` smaller than a fingertip."""
    return page.evaluate(
        """([selector, tap]) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null)
            .map(e => [e, e.getBoundingClientRect()])
            .filter(([e, box]) => box.width < tap || box.height < tap)
            .map(([e, box]) => `${e.outerHTML.slice(0, 80)}: ${box.width}x${box.height}`)""",
        [selector, TAP],
    )


def pressed_looks_different(page: Page, meeting_pk: int) -> None:
    """The pressed RSVP answer is filled, the other not: plain to the eye too."""
    looks = """pk => [true, false].map(pressed => getComputedStyle(
        document.querySelector(`#rsvp-${pk} [aria-pressed=${pressed}]`)).backgroundColor)"""
    # Colours settle after htmx's swap and the buttons' transition. Polled from
    # here: wait_for_function never returns on a page without JavaScript.
    for _ in range(30):
        pressed, other = page.evaluate(looks, meeting_pk)
        if pressed != other and other == "rgba(0, 0, 0, 0)":
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"pressed {pressed}, not pressed {other}: they look alike")


FOCUSED = """() => {
    const e = document.activeElement;
    const style = getComputedStyle(e);
    const label = e.labels && e.labels.length ? e.labels[0].innerText : "";
    return {
        tag: e.tagName.toLowerCase(),
        id: e.id,
        name: (label || e.getAttribute("aria-label") || e.innerText || "").trim(),
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
        shadow: style.boxShadow !== "none",
        html: e.outerHTML.slice(0, 80),
    };
}"""


def tab_to(page: Page, name: str, *, tag: str | None = None, limit: int = 60) -> dict:
    """Press Tab until the element named `name` has focus; every stop must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] != "body":
            assert focused["outline"] or focused["shadow"], f"focus not visible: {focused}"
        if focused["name"].startswith(name) and tag in (None, focused["tag"]):
            return focused
    raise AssertionError(f"{name!r} never took the focus in {limit} presses of Tab")
