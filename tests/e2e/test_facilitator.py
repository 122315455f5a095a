"""A facilitator runs his circle from the admin: sign-in with his second factor,
a join request, a meeting scheduled and cancelled, attendance, the at-risk list.

Every admin page is held to the same rules as the public site (axe, no
sideways scroll on a phone), and the circle page's tools must not cover its
heading at either screen size.
"""

from __future__ import annotations

import re
from base64 import b32decode
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import TOTPDevice, User
from circles import services
from circles.models import RSVP, Attendance, Circle, Meeting, Membership
from tests.circles.conftest import join, make_circle, make_facilitator, make_meeting, make_verified
from tests.conftest import PASSWORD, give_authenticator, totp_code
from tests.e2e.conftest import Journey

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def running_circle() -> tuple[Circle, User]:
    """A circle with a facilitator, three members, two men asking, and some history.

    Drew Drifter said yes and stayed away from the last two meetings: he is
    drifting. The meeting of two days ago has no attendance taken yet.
    """
    circle = make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday", capacity=8)
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    facilitator = make_facilitator("fred@example.com", circle)
    members = [
        make_verified(email, full_name=name)
        for email, name in [
            ("ben@example.com", "Ben Member"),
            ("drew@example.com", "Drew Drifter"),
            ("sam@example.com", "Sam Steady"),
        ]
    ]
    for member in members:
        join(member, circle)
    drew = members[1]
    for weeks_ago in (3, 2):
        held = make_meeting(circle, in_days=-7 * weeks_ago, status=Meeting.Status.HELD)
        for member in members:
            status = Attendance.Status.UNEXCUSED if member == drew else Attendance.Status.PRESENT
            Attendance.objects.create(meeting=held, user=member, status=status)
    make_meeting(circle, in_days=-2)  # attendance still to take
    noah = make_verified("noah@example.com", full_name="Noah Newcomer")
    services.membership_request(circle=circle, user=noah, agreement_version=1)
    # Walt asked five days ago and is still waiting for an answer.
    walt = make_verified("walt@example.com", full_name="Walt Waiting")
    asked = services.membership_request(circle=circle, user=walt, agreement_version=1)
    Membership.objects.filter(pk=asked.pk).update(requested_at=timezone.now() - timedelta(days=5))
    return circle, facilitator


def sign_in_at_the_admin(journey: Journey, user: User) -> Page:
    page = journey.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    journey.check("admin sign-in")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def test_a_facilitator_enrols_an_authenticator_at_his_first_admin_sign_in(
    journey: Journey,
) -> None:
    _, facilitator = running_circle()

    page = sign_in_at_the_admin(journey, facilitator)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/"))
    journey.check("two-factor setup")
    page.get_by_role("button", name="Start", exact=True).click()
    journey.check("two-factor key")
    # What his authenticator app would do with the key shown for typing in.
    key = page.locator("code.secret-key").first.inner_text()
    hex_key = bytes_from_base32(key).hex()
    assert TOTPDevice.objects.get(user_id=facilitator.pk).key == hex_key
    page.get_by_label("Code").fill(totp_code(hex_key))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    journey.check("recovery codes")
    assert page.locator("ol.recovery-codes li").count() == 10
    assert TOTPDevice.objects.get(user_id=facilitator.pk).confirmed_at is not None

    page.get_by_role("button", name="I have kept them: continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("link", name="Circles").first).to_be_visible()
    journey.check("admin home")


def bytes_from_base32(key: str) -> bytes:
    cleaned = "".join(key.split()).upper()
    return b32decode(cleaned + "=" * (-len(cleaned) % 8))


def test_a_facilitator_runs_his_circle_from_the_admin(journey: Journey) -> None:
    circle, facilitator = running_circle()
    device = give_authenticator(facilitator)

    # Sign in: password, then the code his app shows.
    page = sign_in_at_the_admin(journey, facilitator)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/verify/"))
    journey.check("two-factor code")
    page.get_by_label("Code").fill(totp_code(device.key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    journey.check("admin home")

    # The waiting join request: approve it.
    page.goto(journey.site + "/admin/circles/membership/?status__exact=requested")
    journey.check("join requests")
    row = page.get_by_role("row").filter(has_text="Noah Newcomer")
    row.get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("approve")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Approved: Noah Newcomer")
    journey.check("request approved")
    noah = Membership.objects.get(user__email="noah@example.com")
    assert noah.status == Membership.Status.ACTIVE
    assert noah.joined_at is not None

    # Schedule a meeting for next week, then cancel it.
    page.goto(journey.site + "/admin/circles/meeting/add/")
    journey.check("schedule a meeting")
    day = (timezone.localdate() + timedelta(days=9)).isoformat()
    page.get_by_label("Circle").select_option(label="Brooklyn Tuesday")
    page.locator("#id_starts_at_0").fill(day)
    page.locator("#id_starts_at_1").fill("19:00:00")
    page.locator("#id_ends_at_0").fill(day)
    page.locator("#id_ends_at_1").fill("20:30:00")
    page.get_by_label("Note").fill("Extra circle before the holidays")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    journey.check("meeting scheduled")
    meeting = Meeting.objects.get(circle=circle, note="Extra circle before the holidays")
    assert meeting.status == Meeting.Status.SCHEDULED

    row = page.get_by_role("row").filter(has_text="Extra circle before the holidays")
    row.get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("cancel")
    page.get_by_role("button", name="Go").click()
    # It asks first, with the reason the members will read.
    expect(page.get_by_role("heading", name="Cancel these meetings?")).to_be_visible()
    journey.check("cancel confirmation")
    page.get_by_label("Reason").fill("Fred is away that week.")
    page.get_by_role("button", name="Yes, cancel and tell the members").click()
    expect(page.locator(".messagelist")).to_contain_text("Cancelled: Brooklyn Tuesday")
    journey.check("meeting cancelled")
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED
    assert meeting.cancel_reason == "Fred is away that week."

    # Attendance for the meeting of two days ago, from the meeting list: one tap per man,
    # one save. Noah joined after it started, so he is not on it; opening writes nothing.
    past = Meeting.objects.get(
        circle=circle, status=Meeting.Status.SCHEDULED, starts_at__lt=timezone.now()
    )
    sam = User.objects.get(email="sam@example.com")
    RSVP.objects.create(meeting=past, user=sam, response="yes", responded_at=past.starts_at)
    page.goto(journey.site + "/admin/circles/meeting/")
    journey.check("meetings")
    page.locator(f'a[href="/admin/circles/meeting/{past.pk}/attendance/"]').click()
    expect(page.get_by_role("button", name="Save attendance")).to_be_visible()
    journey.check("attendance grid")
    assert not Attendance.objects.filter(meeting=past).exists()
    men = page.locator("fieldset.attendance-row")
    expect(men).to_have_count(4)  # the facilitator and three members, not Noah
    expect(page.locator("#content-main")).not_to_contain_text("Noah Newcomer")
    # Sam said yes: already marked present.
    expect(
        page.get_by_role("group", name=re.compile("Sam Steady")).get_by_label("Present")
    ).to_be_checked()
    for name, mark in [
        ("Ben Member", "Present"),
        ("Drew Drifter", "Absent"),
        ("Fred Facilitator", "Present"),
    ]:
        page.get_by_role("group", name=re.compile(name)).get_by_text(mark, exact=True).click()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator(".messagelist")).to_contain_text("Attendance saved for 4 of 4 men.")
    journey.check("attendance saved")
    taken = dict(Attendance.objects.filter(meeting=past).values_list("user__full_name", "status"))
    assert taken == {
        "Ben Member": "present",
        "Sam Steady": "present",
        "Drew Drifter": "unexcused",
        "Fred Facilitator": "present",
    }

    # Who said yes, by name, on the meeting's page.
    page.goto(journey.site + f"/admin/circles/meeting/{past.pk}/change/")
    expect(page.locator("ul.rsvp-yes")).to_have_text("Sam Steady")
    journey.check("who's coming")

    # The circle's page: its tools beside (not over) the heading, the chart readable.
    page.goto(journey.site + f"/admin/circles/circle/{circle.pk}/change/")
    journey.check("circle page")
    assert_tools_clear_of_heading(page)
    chart = page.get_by_role("img", name=re.compile("Members present at the last 3 meetings"))
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(re.compile(r"of 8 present on average"))
    expect(chart.locator("text.tick")).to_have_text(["0", "2", "4", "6", "8"])
    day = timezone.localtime(past.starts_at, circle.zone).date()
    expect(chart.locator("text.date").last).to_have_text(f"{day.day}{day:%b}")
    page.get_by_text("The same as a table").click()
    table = page.get_by_role("table", name=re.compile("Members present per meeting"))
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").last).to_contain_text("3 of 8")  # just taken
    journey.check("attendance table")

    # The roster, printable, from the circle's page.
    page.get_by_role("link", name="Roster (printable)").click()
    expect(page.get_by_role("table", name="Members of Brooklyn Tuesday")).to_be_visible()
    journey.check("roster")
    page.go_back()

    # The at-risk list names Drew: three unexcused absences in his last meetings.
    page.get_by_role("link", name="At risk").click()
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()
    journey.check("at risk")
    drifting = page.locator(f"#circle-{circle.pk} ul.drifting")
    expect(drifting).to_contain_text("Drew Drifter: 3 unexcused absences")
    expect(drifting).not_to_contain_text("Ben Member")
    waiting = page.locator(f"#circle-{circle.pk} ul.waiting")
    expect(waiting).to_contain_text("Walt Waiting: asked 5")
    expect(waiting).not_to_contain_text("Noah Newcomer")  # approved above


def assert_tools_clear_of_heading(page: Page) -> None:
    """The object-tools' box and the page heading's box do not meet."""
    tools = page.locator("ul.object-tools").bounding_box()
    heading = page.locator("#content > h1, #content > h2").first.bounding_box()
    assert tools is not None and heading is not None
    overlap_x = min(tools["x"] + tools["width"], heading["x"] + heading["width"]) - max(
        tools["x"], heading["x"]
    )
    overlap_y = min(tools["y"] + tools["height"], heading["y"] + heading["height"]) - max(
        tools["y"], heading["y"]
    )
    assert overlap_x <= 0 or overlap_y <= 0, f"object tools {tools} cover the heading {heading}"


def test_a_newcomer_signs_in_as_the_demo_facilitator_with_what_the_demo_prints(
    journey: Journey, settings
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from demo.management.commands.seed_demo import DEMO_FACILITATOR, DEMO_PASSWORD

    settings.DEBUG = True  # seed_demo's condition; the pages are the same
    out = StringIO()
    call_command("seed_demo", stdout=out)
    key = re.search(r"Demo key for all staff: ([A-Z2-7]+)", out.getvalue()).group(1)

    page = journey.goto("/admin/")
    page.get_by_label("Email").fill(DEMO_FACILITATOR)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(totp_code(bytes_from_base32(key).hex()))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # Every facilitator page has something to show.
    page.goto(journey.site + "/admin/circles/circle/at-risk/")
    journey.check("demo at risk")
    expect(page.locator("ul.drifting")).to_contain_text("Ben Carter")
    expect(page.locator("ul.waiting")).to_contain_text("Noah Bennett")
    page.goto(journey.site + "/admin/circles/membership/?status__exact=waitlisted")
    journey.check("demo waitlist")
    expect(page.get_by_role("row").filter(has_text="Ravi Shah")).to_have_count(1)
    circle = Circle.objects.get(slug="mission-tuesday")
    page.goto(journey.site + f"/admin/circles/circle/{circle.pk}/change/")
    journey.check("demo circle page")
    assert_tools_clear_of_heading(page)
    expect(page.get_by_role("img", name=re.compile("Members present"))).to_be_visible()
