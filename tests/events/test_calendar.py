"""An event's .ics (GET /events/<slug>/event.ics) by persona, and his confirmed events in his
personal calendar feed (circles' feed, through the source events registers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import calendar as circles_calendar
from circles import services as circle_services
from events.calendar import feed_entries
from events.models import Event, Registration
from tests.circles.conftest import join, make_circle, make_facilitator, make_meeting, make_verified
from tests.circles.test_calendar import events as vevents
from tests.circles.test_calendar import fmt, physical_lines, unescape
from tests.conftest import force_signed_in
from tests.events.conftest import People, make_event, register_directly

pytestmark = pytest.mark.django_db(databases="__all__")

ADDRESS = "221B Secret Street"
DOOR_CODE = "door code is 4711"


def ics_url(event: Event) -> str:
    return f"/events/{event.slug}/event.ics"


def get_ics(event: Event, user: User | None) -> tuple[int, str]:
    client = force_signed_in(user) if user is not None else Client()
    response = client.get(ics_url(event))
    return response.status_code, response.content.decode()


def the_event(body: str) -> dict[str, str]:
    (vevent,) = vevents(body)
    return vevent


def sees_private(body: str) -> bool:
    return ADDRESS in body and DOOR_CODE in body


# --- The event's own .ics, by persona ---------------------------------------------------------


def test_a_public_events_ics_to_everyone_the_address_only_to_the_confirmed_and_organisers(
    event: Event, people: People
) -> None:
    status, body = get_ics(event, None)
    assert status == 200
    vevent = the_event(body)
    assert unescape(vevent["SUMMARY"]) == "Open evening in Brooklyn"
    assert unescape(vevent["LOCATION"]) == "Park Slope, Brooklyn"
    assert vevent["DTSTART"] == fmt(event.starts_at) and vevent["DTEND"] == fmt(event.ends_at)
    assert vevent["URL"] == f"{settings.SITE_URL}/events/{event.slug}/"
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["UID"].startswith(f"event-{event.pk}@")
    assert not sees_private(body)

    for nobody in (people.member, people.other_facilitator, people.unverified):
        status, body = get_ics(event, nobody)
        assert status == 200 and not sees_private(body), nobody.email
    for insider in (people.registered, people.organiser):
        status, body = get_ics(event, insider)
        assert status == 200 and sees_private(body), insider.email
        assert unescape(the_event(body)["LOCATION"]).startswith(ADDRESS)


def test_the_response_is_a_calendar_file_no_shared_cache_keeps(
    event: Event, people: People
) -> None:
    response = force_signed_in(people.registered).get(ics_url(event))

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    assert "private" in response["Cache-Control"]
    lines = physical_lines(response.content.decode())
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert all(len(line.encode()) <= 75 for line in lines)
    assert people.registered.email not in response.content.decode()


@pytest.mark.parametrize(
    "status",
    [Registration.Status.WAITLISTED, Registration.Status.HELD, Registration.Status.OFFERED],
)
def test_a_man_not_yet_confirmed_gets_no_address(event: Event, status: str) -> None:
    waiting = make_verified("wait@example.com")
    register_directly(event, waiting, status=status)

    code, body = get_ics(event, waiting)

    assert code == 200 and not sees_private(body)


def test_a_members_only_event_is_not_there_for_the_anonymous(people: People) -> None:
    members = make_event(title="Members evening", visibility=Event.Visibility.MEMBERS)

    assert get_ics(members, None)[0] == 404
    assert get_ics(members, people.member)[0] == 200
    assert get_ics(members, people.other_facilitator)[0] == 200


def test_a_circles_event_is_for_its_circle_and_its_facilitators_organise_it(
    people: People,
) -> None:
    circle = make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday")
    lead = make_facilitator("lead@example.com", circle)
    in_circle = make_verified("insider@example.com")
    join(in_circle, circle)
    day_out = make_event(title="Day out", visibility=Event.Visibility.CIRCLE, circle=circle)

    for outsider in (None, people.member, people.other_facilitator):
        assert get_ics(day_out, outsider)[0] == 404
    status, body = get_ics(day_out, in_circle)
    assert status == 200 and not sees_private(body)
    status, body = get_ics(day_out, lead)
    assert status == 200 and sees_private(body)


def test_a_draft_is_only_its_organisers_and_an_unknown_event_is_404(people: People) -> None:
    draft = make_event(title="Not yet", status=Event.Status.DRAFT)
    draft.organisers.add(people.organiser)

    for nobody in (None, people.member, people.other_facilitator, people.registered):
        assert get_ics(draft, nobody)[0] == 404
    assert get_ics(draft, people.organiser)[0] == 200
    assert Client().get("/events/no-such-event/event.ics").status_code == 404
    assert Client().post(ics_url(draft)).status_code == 405


def test_a_cancelled_event_says_so_and_text_is_escaped_and_folded(people: People) -> None:
    event = make_event(
        title="Fire, drums; and a long walk " + "through the ancient woods",
        description="Line one\nLine two, with a comma",
        status=Event.Status.CANCELLED,
    )

    status, body = get_ics(event, None)

    assert status == 200
    vevent = the_event(body)
    assert vevent["STATUS"] == "CANCELLED"
    assert vevent["SUMMARY"].startswith("Fire\\, drums\\; and a long walk")
    assert "Line one\nLine two, with a comma" in unescape(vevent["DESCRIPTION"])
    assert all(len(line.encode()) <= 75 for line in physical_lines(body))


# --- His personal feed --------------------------------------------------------------------------


def feed_for(user: User) -> str:
    token = circle_services.calendar_feed_create(user=user)
    response = Client().get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    return response.content.decode()


def uids(body: str) -> list[str]:
    return [vevent["UID"].split("@")[0] for vevent in vevents(body)]


def test_his_feed_holds_his_meetings_and_his_confirmed_events_only(
    event: Event, people: People
) -> None:
    circle = make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday")
    man = people.registered
    join(man, circle)
    meeting = make_meeting(circle)
    waitlisted = make_event(title="Full retreat")
    register_directly(waitlisted, man, status=Registration.Status.WAITLISTED)
    held = make_event(title="Paying for it")
    register_directly(held, man, status=Registration.Status.HELD)
    left = make_event(title="He cancelled")
    register_directly(left, man, status=Registration.Status.CANCELLED)
    long_ago = make_event(
        title="Last year",
        starts_at=timezone.now() - timedelta(days=30),
        ends_at=timezone.now() - timedelta(days=29),
        status=Event.Status.FINISHED,
    )
    register_directly(long_ago, man)
    last_week = make_event(
        title="Last week",
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() - timedelta(days=3) + timedelta(hours=2),
        status=Event.Status.FINISHED,
    )
    register_directly(last_week, man)
    someone_elses = make_event(title="Not his")
    register_directly(someone_elses, people.member)

    body = feed_for(man)

    assert sorted(uids(body)) == sorted(
        [f"meeting-{meeting.pk}", f"event-{event.pk}", f"event-{last_week.pk}"]
    )
    mine = next(v for v in vevents(body) if v["UID"].startswith(f"event-{event.pk}@"))
    assert unescape(mine["LOCATION"]).startswith(ADDRESS)  # his own feed: he is confirmed
    assert DOOR_CODE in unescape(mine["DESCRIPTION"])
    assert man.email not in body


def test_an_event_the_organiser_cancels_stays_in_his_feed_as_cancelled(
    event: Event, people: People
) -> None:
    man = people.registered
    Registration.objects.filter(user=man).update(
        status=Registration.Status.CANCELLED, cancelled_at=timezone.now()
    )
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)

    (vevent,) = vevents(feed_for(man))

    assert vevent["UID"].startswith(f"event-{event.pk}@")
    assert vevent["STATUS"] == "CANCELLED"
    assert ADDRESS not in unescape(vevent.get("LOCATION", ""))  # no longer his to know


def test_a_man_with_no_events_has_his_meetings_as_before(db: None) -> None:
    circle = make_circle()
    man = make_verified("ben@example.com")
    join(man, circle)
    meeting = make_meeting(circle)
    make_event()  # not his

    assert uids(feed_for(man)) == [f"meeting-{meeting.pk}"]


def test_events_is_a_registered_feed_source_and_a_name_is_registered_once() -> None:
    assert circles_calendar._feed_sources["events"] is feed_entries
    circles_calendar.feed_source("events", feed_entries)  # the same again is harmless

    with pytest.raises(ValueError, match="registered twice"):
        circles_calendar.feed_source("events", lambda user, **kwargs: [])


def test_his_feed_is_a_fixed_number_of_queries_however_many_events(
    people: People, django_assert_max_num_queries
) -> None:
    man = people.registered
    for n in range(5):
        register_directly(make_event(title=f"Event {n}"), man)

    with django_assert_max_num_queries(1):
        lines = list(feed_entries(man, stamp="20260101T000000Z", host="example.com"))

    assert lines.count("BEGIN:VEVENT") == 6


def test_the_event_page_links_to_its_ics_unless_cancelled(event: Event, people: People) -> None:
    link = f'href="{ics_url(event)}"'

    assert link in Client().get(f"/events/{event.slug}/").content.decode()
    assert link in force_signed_in(people.registered).get(f"/events/{event.slug}/").content.decode()
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)
    assert link not in Client().get(f"/events/{event.slug}/").content.decode()
