"""At-risk page, attendance CSV and chart, and query counts that don't grow with data."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles.models import Attendance, Circle, FacilitatorNote, Meeting, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.circles.test_admin_access import World, make_world
from tests.conftest import capture_all_queries, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

SVG = "{http://www.w3.org/2000/svg}"
PRESENT, EXCUSED, UNEXCUSED = "present", "excused", "unexcused"


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def past_meetings(circle: Circle, count: int, **fields: object) -> list[Meeting]:
    """`count` past meetings, oldest first, a week apart (before the world's own)."""
    return [make_meeting(circle, in_days=-7 * (count - i + 1), **fields) for i in range(count)]


def mark(meetings: list[Meeting], user: User, statuses: list[str]) -> None:
    for meeting, status in zip(meetings, statuses, strict=True):
        Attendance.objects.create(meeting=meeting, user=user, status=status)


def member(circle: Circle, email: str, name: str, **fields: object) -> User:
    user = make_verified(email, full_name=name, **fields)
    join(user, circle)
    return user


# --- At risk ----------------------------------------------------------------------------


def test_at_risk_lists_exactly_the_drifting_and_the_long_waiting(world: World, al: Client) -> None:
    circle = world.a.circle
    # Oldest first; the world's own meeting (a week ago, Member Alderman present) is newest.
    older = past_meetings(circle, 4)
    make_meeting(circle, in_days=-2, status=Meeting.Status.CANCELLED)
    make_meeting(circle, in_days=2)  # still to come
    last_four = [*older[1:], world.a.meeting]

    drifting = member(circle, "drift@example.com", "Dan Drifting")
    mark(last_four, drifting, [PRESENT, UNEXCUSED, PRESENT, UNEXCUSED])
    long_ago = member(circle, "longago@example.com", "Len Longago")
    mark(older, long_ago, [UNEXCUSED, UNEXCUSED, PRESENT, PRESENT])  # oldest is outside
    excused = member(circle, "excused@example.com", "Ed Excused")
    mark(last_four, excused, [EXCUSED, UNEXCUSED, EXCUSED, PRESENT])
    newcomer = member(circle, "new@example.com", "Nick Newcomer")
    mark(last_four[2:], newcomer, [UNEXCUSED, UNEXCUSED])  # his only two meetings
    gone = member(circle, "gone@example.com", "Gus Gone")
    mark(last_four, gone, [UNEXCUSED] * 4)
    Membership.objects.filter(user=gone).update(status=Membership.Status.LEFT)
    # His misses in another circle don't count here.
    other = make_circle(name="Cedar Circle", slug="cedar-circle")
    join(drifting, other)

    fresh = make_verified("fresh@example.com", full_name="Fresh Asker")
    Membership.objects.create(
        circle=circle, user=fresh, requested_at=timezone.now() - timedelta(days=1)
    )
    queued = make_verified("queued@example.com", full_name="Quentin Queued")
    Membership.objects.create(
        circle=circle,
        user=queued,
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now() - timedelta(days=9),
    )

    response = al.get("/admin/circles/circle/at-risk/")

    assert response.status_code == 200
    [report] = response.context["report"]
    assert report.circle == circle
    assert [(m.user.full_name, m.misses) for m in report.drifting] == [
        ("Dan Drifting", 2),
        ("Nick Newcomer", 2),
    ]
    assert [m.user.full_name for m in report.waiting] == ["Asker Alderson"]
    page = response.content.decode()
    assert "Dan Drifting" in page and "Asker Alderson" in page
    for name in ("Len Longago", "Ed Excused", "Gus Gone", "Fresh Asker", "Quentin Queued"):
        assert name not in page


def test_the_circle_list_links_to_the_at_risk_page(al: Client) -> None:
    page = al.get("/admin/circles/circle/").content.decode()

    assert 'href="/admin/circles/circle/at-risk/"' in page


def test_a_superuser_sees_every_circle_at_risk(world: World) -> None:
    response = signed_in(world.superuser).get("/admin/circles/circle/at-risk/")

    assert [r.circle.name for r in response.context["report"]] == ["Alder Circle", "Birch Circle"]


# --- Attendance CSV ---------------------------------------------------------------------


def test_attendance_csv_has_local_dates_public_names_and_statuses(world: World, al: Client) -> None:
    circle = world.a.circle  # America/New_York
    # 02:30 UTC on 4 March is still 3 March in New York.
    starts = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)
    meeting = Meeting.objects.create(
        circle=circle, starts_at=starts, ends_at=starts + timedelta(hours=1)
    )
    Attendance.objects.create(meeting=meeting, user=world.a.member, status=EXCUSED)
    Attendance.objects.create(meeting=meeting, user=None, status=PRESENT)
    # A member since before that meeting (the CSV counts only meetings since he joined).
    Membership.objects.filter(user=world.a.member).update(joined_at=starts - timedelta(days=7))

    response = al.get(f"/admin/circles/circle/{circle.pk}/attendance.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    recent = timezone.localtime(world.a.meeting.starts_at, circle.zone).date().isoformat()
    assert rows == [
        ["date", "member", "status"],
        ["2025-03-03", "Member A.", "Excused absence"],
        ["2025-03-03", "Former member", "Present"],
        [recent, "Member A.", "Present"],
    ]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_attendance_csv_defuses_formulas(world: World, al: Client, name: str) -> None:
    world.a.member.display_name = name
    world.a.member.full_name = ""
    world.a.member.save(update_fields=["display_name", "full_name"])

    response = al.get(f"/admin/circles/circle/{world.a.circle.pk}/attendance.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == f"'{name}"


# --- Attendance chart -------------------------------------------------------------------


def parse_svg(content: bytes) -> ET.Element:
    # Our own response; a parse error is exactly what the test looks for.
    return ET.fromstring(content)  # noqa: S314


def test_attendance_chart_is_well_formed_svg_with_a_bar_per_recent_meeting(
    world: World, al: Client
) -> None:
    circle = world.a.circle
    circle.name = 'Alder <&> "Circle"'
    circle.save(update_fields=["name"])
    meetings = past_meetings(circle, 14)
    for meeting in meetings[-3:]:
        Attendance.objects.create(meeting=meeting, user=world.a.facilitator, status=PRESENT)
    make_meeting(circle, in_days=-1, status=Meeting.Status.CANCELLED)
    make_meeting(circle, in_days=6)

    response = al.get(f"/admin/circles/circle/{circle.pk}/attendance.svg")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = parse_svg(response.content)
    assert root.tag == f"{SVG}svg"
    assert 'Alder <&> "Circle"' in root.find(f"{SVG}title").text
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 12  # 15 past meetings, the last 12; none cancelled or to come
    titles = [bar.find(f"{SVG}title").text for bar in bars]
    assert titles[-1].endswith("1 of 10 present")  # the world's meeting: one present
    assert titles[-2].endswith("1 of 10 present")
    assert titles[0].endswith("0 of 10 present")
    assert int(bars[-1].get("height")) > 0 and int(bars[0].get("height")) == 0


def test_attendance_chart_has_dates_a_labelled_scale_and_a_text_alternative(
    world: World, al: Client
) -> None:
    circle = world.a.circle  # capacity 10
    meetings = past_meetings(circle, 3)
    for meeting in meetings[1:]:
        Attendance.objects.create(meeting=meeting, user=world.a.facilitator, status=PRESENT)
    days = [
        timezone.localtime(m.starts_at, circle.zone).date()
        for m in [
            *meetings,
            *Meeting.objects.filter(circle=circle, starts_at__gt=meetings[-1].starts_at),
        ]
    ]

    response = al.get(f"/admin/circles/circle/{circle.pk}/attendance.svg")

    root = parse_svg(response.content)
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title.get("id") == root.get("aria-labelledby")
    assert title.text.startswith("Members present at the last 4 meetings")
    desc = root.find(f"{SVG}desc")
    assert desc.get("id") == root.get("aria-describedby")
    assert f"From {days[0]:%d %b %Y} to {days[-1]:%d %b %Y}" in desc.text
    assert "of 10 present on average" in desc.text
    # Dates along the x axis: day and month under each bar, oldest first.
    dates = [
        [span.text for span in text.iter(f"{SVG}tspan")]
        for text in root.iter(f"{SVG}text")
        if text.get("class") == "date"
    ]
    assert dates == [[str(day.day), f"{day:%b}"] for day in days]
    # A y scale: round ticks, labelled, from 0 up to the circle's seats, bottom to top.
    ticks = [t for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert [t.text for t in ticks] == ["0", "2", "4", "6", "8", "10"]
    heights = [float(t.get("y")) for t in ticks]
    assert heights == sorted(heights, reverse=True)
    assert len([g for g in root.iter(f"{SVG}line") if g.get("class") == "grid"]) == 6


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (3, [0, 1, 2, 3]),
        (8, [0, 2, 4, 6, 8]),
        (10, [0, 2, 4, 6, 8, 10]),
        (12, [0, 5, 10, 15]),
        (40, [0, 10, 20, 30, 40]),
    ],
)
def test_the_chart_scale_has_few_round_ticks(top: int, ticks: list[int]) -> None:
    from circles.admin_views import chart_ticks

    assert chart_ticks(top) == ticks


def test_a_circle_with_no_meetings_gets_an_empty_chart(al: Client, world: World) -> None:
    Meeting.objects.filter(circle=world.a.circle).delete()

    response = al.get(f"/admin/circles/circle/{world.a.circle.pk}/attendance.svg")

    root = parse_svg(response.content)
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_the_circle_page_shows_the_chart_and_its_links(world: World, al: Client) -> None:
    circle = world.a.circle

    page = al.get(f"/admin/circles/circle/{circle.pk}/change/").content.decode()

    assert '<svg xmlns="http://www.w3.org/2000/svg" class="attendance-chart"' in page
    # The chart's text alternative, visible: a summary and the numbers as a table.
    assert 'class="attendance-summary">From ' in page
    assert '<table class="attendance-data">' in page
    assert f"/admin/circles/circle/{circle.pk}/attendance.csv" in page
    assert f"/admin/circles/agreement/add/?circle={circle.pk}" in page


# --- Query counts -----------------------------------------------------------------------


def grow(world: World, n: int) -> None:
    """More of everything in the facilitator's circles (and a second circle of his)."""
    circle = world.a.circle
    second = make_circle(name=f"Alder Two {n}", slug=f"alder-two-{n}")
    join(world.a.facilitator, second, role="co_facilitator")
    meetings = past_meetings(circle, 6)
    for i in range(n):
        man = member(circle, f"grow{n}-{i}@example.com", f"Grow Man{i}")
        join(man, second)
        # The last three of these are among the circle's last four meetings.
        mark(meetings, man, [UNEXCUSED, UNEXCUSED, PRESENT, UNEXCUSED, PRESENT, UNEXCUSED])
        asker = make_verified(f"ask{n}-{i}@example.com", full_name=f"Ask Man{i}")
        Membership.objects.create(
            circle=second, user=asker, requested_at=timezone.now() - timedelta(days=4)
        )
        FacilitatorNote.objects.create(
            author_id=world.a.facilitator.pk, member_id=man.pk, circle_id=circle.pk, text="n"
        )
    past_meetings(second, 3)


def query_count(client: Client, url: str) -> int:
    """Queries of one page view, both databases, not counting the session's own.

    Whether the session comes from the cache or its table is not the page's doing.
    """
    with capture_all_queries() as captured:
        assert client.get(url).status_code == 200
    return sum(
        "accounts_session" not in query["sql"]
        for context in captured.values()
        for query in context.captured_queries
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/circles/circle/at-risk/",
        "/admin/circles/circle/",
        "/admin/circles/membership/",
        "/admin/circles/meeting/",
        "/admin/circles/agreement/",
        "/admin/circles/facilitatornote/",
    ],
)
def test_query_count_does_not_grow_with_data(world: World, al: Client, url: str) -> None:
    grow(world, 2)
    small = query_count(al, url)

    grow(world, 15)
    large = query_count(al, url)

    assert large == small, url


def test_the_at_risk_page_really_found_the_grown_data(world: World, al: Client) -> None:
    grow(world, 3)

    report = al.get("/admin/circles/circle/at-risk/").context["report"]

    by_name = {r.circle.name: r for r in report}
    assert len(by_name["Alder Circle"].drifting) == 3
    assert len(by_name["Alder Two 3"].waiting) == 3
