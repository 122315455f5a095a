from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from circles import services
from circles.calendar import fold, meetings_ics
from circles.models import Circle, Meeting
from tests.circles.conftest import make_circle, make_meeting

pytestmark = pytest.mark.django_db(databases="__all__")

UTC_STAMP = re.compile(r"^\d{8}T\d{6}Z$")


def physical_lines(ics: str) -> list[str]:
    assert ics.endswith("\r\n")
    lines = ics.split("\r\n")[:-1]
    assert not any("\r" in line or "\n" in line for line in lines), "bare CR or LF"
    return lines


def unfold(ics: str) -> list[str]:
    lines: list[str] = []
    for line in physical_lines(ics):
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def events(ics: str) -> list[dict[str, str]]:
    """Each VEVENT as {property name: raw value} (our properties appear once each)."""
    found, current = [], None
    for line in unfold(ics):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            found.append(current)
            current = None
        elif current is not None:
            name_and_params, value = line.split(":", 1)
            current[name_and_params.split(";")[0]] = value
    return found


def fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics_for(*meetings: Meeting, include_private: bool = True) -> str:
    loaded = Meeting.objects.select_related("circle").filter(pk__in=[m.pk for m in meetings])
    return meetings_ics(loaded.order_by("starts_at"), include_private=include_private)


def test_calendar_is_a_vcalendar_with_one_event_per_meeting(circle: Circle) -> None:
    meetings = [make_meeting(circle, in_days=d) for d in (1, 8, 15)]

    ics = ics_for(*meetings)
    lines = unfold(ics)

    assert lines[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Men's Circle//mensc//EN"]
    assert "METHOD:PUBLISH" in lines
    assert lines[-1] == "END:VCALENDAR"
    assert len(events(ics)) == 3


def test_an_empty_calendar_is_still_valid() -> None:
    lines = unfold(meetings_ics([], include_private=False, name="My circles"))

    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "X-WR-CALNAME:My circles" in lines
    assert "BEGIN:VEVENT" not in lines


def test_times_are_utc_and_the_uid_is_stable(circle: Circle, settings) -> None:
    settings.SITE_URL = "https://circles.example.org"
    meeting = make_meeting(circle, in_days=5)

    first, second = events(ics_for(meeting))[0], events(ics_for(meeting))[0]

    assert first["UID"] == second["UID"] == f"meeting-{meeting.pk}@circles.example.org"
    assert first["DTSTART"] == fmt(meeting.starts_at)
    assert first["DTEND"] == fmt(meeting.ends_at)
    for key in ("DTSTART", "DTEND", "DTSTAMP"):
        assert UTC_STAMP.match(first[key]), first[key]
    assert first["URL"] == f"https://circles.example.org/meetings/{meeting.pk}/"
    assert first["SUMMARY"] == "Brooklyn Tuesday"


def test_a_cancelled_meeting_says_so(circle: Circle) -> None:
    kept = make_meeting(circle, in_days=1)
    cancelled = services.meeting_cancel(meeting=make_meeting(circle, in_days=8))

    statuses = [event["STATUS"] for event in events(ics_for(kept, cancelled))]

    assert statuses == ["CONFIRMED", "CANCELLED"]


def test_long_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    name = "Männerkreis Zürich — 静かな川の輪 🌲🌲 " * 3  # ~100 characters, ~170 octets
    circle = make_circle(name=name, description="x")
    meeting = make_meeting(circle)

    ics = ics_for(meeting)

    lines = physical_lines(ics)
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)
    assert unescape(events(ics)[0]["SUMMARY"]) == name
    # Folded, re-encoded and decoded again, every piece is whole UTF-8.
    assert ics.encode().decode() == ics


@pytest.mark.parametrize("length", [1, 74, 75, 76, 149, 150, 151, 400])
def test_fold_keeps_every_line_within_75_octets(length: int) -> None:
    for char in ("a", "é", "静", "🌲"):
        line = "DESCRIPTION:" + char * length
        folded = fold(line)
        pieces = folded.split("\r\n")
        assert all(len(piece.encode()) <= 75 for piece in pieces)
        assert all(piece.startswith(" ") for piece in pieces[1:])
        assert pieces[0] + "".join(piece[1:] for piece in pieces[1:]) == line


def test_text_is_escaped(circle: Circle) -> None:
    circle.name = "Fathers, Sons; Brothers \\ Friends"
    circle.private_address = "12 Oak St, Apt 3; ring twice\r\nBack door"
    circle.save()
    meeting = make_meeting(circle, note="Bring a chair,\nplease; thanks")

    ics = ics_for(meeting)
    event = events(ics)[0]

    assert event["SUMMARY"] == "Fathers\\, Sons\\; Brothers \\\\ Friends"
    assert unescape(event["SUMMARY"]) == circle.name
    assert event["LOCATION"] == "12 Oak St\\, Apt 3\\; ring twice\\nBack door"
    assert "Bring a chair\\,\\nplease\\; thanks" in event["DESCRIPTION"]


def test_members_see_the_address_and_others_only_the_area(circle: Circle) -> None:
    circle.location_kind = Circle.LocationKind.IN_PERSON
    circle.save()
    meeting = make_meeting(circle, note="Door code 4711")

    private = ics_for(meeting, include_private=True)
    public = ics_for(meeting, include_private=False)

    assert unescape(events(private)[0]["LOCATION"]) == "221B Secret Street, Apt 4"
    assert unescape(events(public)[0]["LOCATION"]) == "Park Slope, Brooklyn"
    for secret in ("Secret Street", "secret-room", "4711"):
        assert secret not in unfold_text(public)


def unfold_text(ics: str) -> str:
    return unescape("\n".join(unfold(ics)))


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        (Circle.LocationKind.ONLINE, "https://video.example.com/secret-room"),
        (
            Circle.LocationKind.HYBRID,
            "221B Secret Street, Apt 4 or online: https://video.example.com/secret-room",
        ),
    ],
)
def test_online_circles_give_members_the_video_link(
    circle: Circle, kind: str, location: str
) -> None:
    circle.location_kind = kind
    circle.save()
    meeting = make_meeting(circle)

    private = events(ics_for(meeting, include_private=True))[0]
    public = events(ics_for(meeting, include_private=False))[0]

    assert unescape(private["LOCATION"]) == location
    assert "Join online: https://video.example.com/secret-room" in unescape(private["DESCRIPTION"])
    assert unescape(public["LOCATION"]) == "Park Slope, Brooklyn"
    assert "secret-room" not in unfold_text(ics_for(meeting, include_private=False))


def test_an_online_circle_without_an_area_is_just_online() -> None:
    circle = make_circle(location_kind=Circle.LocationKind.ONLINE, public_area="")

    event = events(ics_for(make_meeting(circle), include_private=False))[0]

    assert event["LOCATION"] == "Online"


def test_no_member_details_reach_a_calendar(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle, leader=circle_member)
    past = make_meeting(circle, in_days=-7, leader=facilitator, status=Meeting.Status.HELD)

    for include_private in (True, False):
        text = unfold_text(ics_for(meeting, past, include_private=include_private))
        for person in (facilitator, circle_member):
            assert person.email not in text
            assert person.full_name not in text
        assert circle_member.phone not in text
        assert "@example.com" not in text


def test_the_window_is_utc_whatever_the_circles_zone() -> None:
    circle = make_circle(time_zone="Australia/Sydney")
    starts = datetime(2026, 1, 10, 8, 30, tzinfo=circle.zone)
    meeting = Meeting.objects.create(
        circle=circle, starts_at=starts, ends_at=starts + timedelta(hours=2)
    )

    event = events(ics_for(meeting))[0]

    assert event["DTSTART"] == "20260109T213000Z"
    assert event["DTEND"] == "20260109T233000Z"
