"""A member of a circle: RSVP with htmx and without JavaScript, the meeting, the calendar."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from circles.models import RSVP
from circles.selectors import public_name
from tests.e2e.conftest import VIEWPORTS, Journey
from tests.e2e.member_steps import (
    follow_nav,
    member_with_a_meeting,
    pressed_looks_different,
    sign_in,
    too_small,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_member_rsvps_in_place_opens_the_meeting_and_subscribes_to_the_calendar(
    journey: Journey,
) -> None:
    member, circle, meeting = member_with_a_meeting()
    page = journey.page
    sign_in(journey, member.email)
    journey.check("signed in")
    follow_nav(page, "Dashboard")
    expect(page).to_have_url(journey.site + "/dashboard/")
    journey.check("dashboard")

    rsvp = page.locator(f"#rsvp-{meeting.pk}")
    yes = rsvp.get_by_role("button", name="Yes")
    no = rsvp.get_by_role("button", name="No")
    expect(yes).to_have_attribute("aria-pressed", "false")
    expect(no).to_have_attribute("aria-pressed", "false")
    assert too_small(page, ".rsvp button") == []
    # Side by side: both on one line, however narrow the screen.
    assert yes.bounding_box()["y"] == no.bounding_box()["y"]
    # A mark on the document that a full page load would wipe out.
    page.evaluate("window.stillTheSamePage = true")
    with page.expect_response(re.compile(rf"/meetings/{meeting.pk}/rsvp/$")) as answer:
        yes.click()
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(yes).to_have_attribute("aria-pressed", "true")
    expect(no).to_have_attribute("aria-pressed", "false")
    expect(rsvp).to_contain_text("You're coming.")
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page).to_have_url(journey.site + "/dashboard/")
    assert RSVP.objects.get(meeting=meeting, user=member).response == "yes"
    # The pressed answer looks different from the other one, not only to a screen reader.
    pressed_looks_different(page, meeting.pk)
    journey.check("dashboard after answering yes")

    page.get_by_role("link", name=circle.name).first.click()
    expect(page).to_have_url(journey.site + meeting.get_absolute_url())
    coming = page.locator("section", has=page.get_by_role("heading", name="Who's coming"))
    expect(coming).to_contain_text(public_name(member))
    # The place, to members: the circle's private address or video link.
    expect(page.get_by_role("heading", name="Where")).to_be_visible()
    expect(page.get_by_role("button", name="Yes")).to_have_attribute("aria-pressed", "true")
    journey.check("meeting page")

    # Leaving asks first; staying is one tap back.
    page.get_by_role("link", name="The circle", exact=True).click()
    page.get_by_role("button", name="Leave this circle").click()
    expect(page.get_by_role("heading", name=f"Leave {circle.name}?")).to_be_visible()
    journey.check("leave confirmation")
    page.get_by_role("link", name="No, stay in the circle").click()
    expect(page).to_have_url(journey.site + circle.get_absolute_url())

    follow_nav(page, "Dashboard")
    page.get_by_role("link", name="Subscribe to my meetings in a calendar app").click()
    journey.check("calendar page")
    page.get_by_role("button", name="Make my calendar link").click()
    feed_url = page.get_by_label("Calendar feed link").input_value()
    assert feed_url.startswith(journey.site + "/calendar/"), feed_url
    journey.check("calendar link made")
    feed = page.request.get(feed_url)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    ics = feed.text()
    assert "BEGIN:VEVENT" in ics
    assert f"SUMMARY:{circle.name}" in ics
    assert meeting.starts_at.strftime("%Y%m%dT%H%M") in ics
    # With JavaScript the copy button shows; the link opens in Google or Apple Calendar.
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    webcal = "webcal://" + feed_url.split("://", 1)[1]
    # Links that look like buttons (the site's role="button" links, as Pico styles them).
    expect(page.get_by_role("button", name="Add to Apple Calendar or Outlook")).to_have_attribute(
        "href", webcal
    )
    expect(page.get_by_role("button", name="Add to Google Calendar")).to_have_attribute(
        "href", "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe="")
    )

    # Back another time: the same link, and replacing it is a small step that asks first.
    page.reload()
    journey.check("calendar page, on return")
    assert page.get_by_label("Calendar feed link").input_value() == feed_url
    # Tucked away until he opens it: the page's big action is no longer "replace".
    expect(page.get_by_role("link", name="Replace this link…")).to_be_hidden()
    page.get_by_text("Replace or switch off this link").click()
    page.get_by_role("link", name="Replace this link…").click()
    expect(page).to_have_url(journey.site + "/calendar/replace/")
    journey.check("replace asks first")
    page.get_by_role("button", name="Yes, replace my link").click()
    expect(page).to_have_url(journey.site + "/calendar/")
    new_url = page.get_by_label("Calendar feed link").input_value()
    assert new_url != feed_url
    journey.check("calendar link replaced")


def test_a_member_rsvps_without_javascript(journey: Journey, browser: Browser, screen: str) -> None:
    member, _circle, meeting = member_with_a_meeting()
    RSVP.objects.create(meeting=meeting, user=member, response=RSVP.Response.YES)
    context = browser.new_context(
        base_url=journey.site, java_script_enabled=False, **VIEWPORTS[screen]
    )
    try:
        page = context.new_page()
        sign_in(journey, member.email, page=page)
        page.goto(journey.site + "/dashboard/")
        rsvp = page.locator(f"#rsvp-{meeting.pk}")
        expect(rsvp.get_by_role("button", name="Yes")).to_have_attribute("aria-pressed", "true")
        rsvp.get_by_role("button", name="No").click()

        # A plain form post: back on the meeting page, with the new answer shown.
        expect(page).to_have_url(journey.site + meeting.get_absolute_url())
        expect(page.get_by_role("status")).to_contain_text("Thanks, your answer is saved.")
        expect(page.get_by_text("You can't come.")).to_be_visible()
        expect(page.get_by_role("button", name="No")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_role("button", name="Yes")).to_have_attribute("aria-pressed", "false")
        expect(page.get_by_text(f"Can't come: {public_name(member)}")).to_be_visible()
        assert RSVP.objects.get(meeting=meeting, user=member).response == "no"
        assert too_small(page, ".rsvp button") == []
        pressed_looks_different(page, meeting.pk)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        page.screenshot(path=str(journey.folder / "no-javascript-meeting-page.png"), full_page=True)
    finally:
        context.close()
    # axe-core needs JavaScript in the page: the rest of the checks on the same
    # page, as it now stands, in the journey's own browser.
    sign_in(journey, member.email)
    journey.goto(meeting.get_absolute_url(), "meeting page after answering no without JavaScript")
    expect(journey.page.get_by_role("button", name="No")).to_have_attribute("aria-pressed", "true")
