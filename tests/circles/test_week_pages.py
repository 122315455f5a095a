"""Issue 14, a circle's week: times that say whose they are, nothing irreversible in one
tap, and pages with what a man needs. Each view is checked by persona."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing.models import DuesTier
from circles import services, times
from circles.models import RSVP, Circle, Meeting, Membership
from circles.reminders import queue_reminders
from notifications import sms
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.circles.test_admin_access import World, make_world, meeting_form
from tests.circles.test_seats import circle_form
from tests.conftest import committed, force_signed_in, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def la_circle(**fields: object) -> Circle:
    """An in-person circle meeting Tuesdays at 7 pm in Los Angeles."""
    return make_circle(
        name="Mission Tuesday",
        slug="mission-tuesday",
        time_zone="America/Los_Angeles",
        weekday=1,
        start_time=time(19, 0),
        **fields,
    )


def next_tuesday_7pm(circle: Circle) -> datetime:
    today = timezone.localdate(timezone=circle.zone)
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return circle.local_start(day)


def meeting_at(circle: Circle, starts: datetime, **fields: object) -> Meeting:
    return Meeting.objects.create(
        circle=circle, starts_at=starts, ends_at=starts + timedelta(minutes=90), **fields
    )


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- Whose time it is ---------------------------------------------------------------------


def test_an_in_person_meeting_is_in_the_venues_time_named_by_its_city() -> None:
    circle = la_circle()
    meeting = meeting_at(circle, next_tuesday_7pm(circle))
    paris = make_verified("pierre@example.com", full_name="Pierre Paris", time_zone="Europe/Paris")
    join(paris, circle)

    html = page(force_signed_in(paris), meeting.get_absolute_url())

    assert "7:00 pm Los Angeles time" in html
    assert "your time" not in html  # he goes there: the venue's clock is the one that counts
    assert "America/Los_Angeles" not in html


def test_an_online_meeting_is_in_the_readers_time_with_the_circles_in_brackets() -> None:
    circle = la_circle(location_kind=Circle.LocationKind.ONLINE)
    starts = next_tuesday_7pm(circle)
    meeting = meeting_at(circle, starts)
    paris = make_verified("pierre@example.com", full_name="Pierre Paris", time_zone="Europe/Paris")
    join(paris, circle)
    there = timezone.localtime(starts, ZoneInfo("Europe/Paris"))

    html = page(force_signed_in(paris), "/dashboard/")

    mine = f"{there:%A} {there.day} {there:%B}, {times.clock(there)} your time"
    assert f"{mine} (Tuesday" in html
    assert "7:00 pm Los Angeles time)" in html
    assert meeting.get_absolute_url() in html


def test_anonymous_readers_of_an_online_circle_get_the_circles_time_said_as_its() -> None:
    circle = la_circle(location_kind=Circle.LocationKind.ONLINE)
    meeting_at(circle, next_tuesday_7pm(circle))

    html = page(Client(), circle.get_absolute_url())
    directory = page(Client(), "/circles/")

    assert "Every Tuesday, 7:00 pm Los Angeles time" in html
    assert "7:00 pm Los Angeles time" in html.split("Next meeting")[1]
    assert "your time" not in html
    assert "Every Tuesday, 7:00 pm Los Angeles time" in directory
    # The zone filter's option values are zone names; what the cards say is not.
    assert "America/Los_Angeles" not in directory.split('id="circles"')[1]
    assert ">Los Angeles time</option>" in directory


def test_the_directory_converts_an_online_circles_time_to_the_readers() -> None:
    la_circle(location_kind=Circle.LocationKind.ONLINE)
    tokyo = make_verified("taro@example.com", full_name="Taro Tokyo", time_zone="Asia/Tokyo")

    html = page(force_signed_in(tokyo), "/circles/")

    # 7 pm Tuesday in Los Angeles is Wednesday noon (or 11 am) in Tokyo.
    assert "Every Tuesday, 7:00 pm Los Angeles time (Wednesdays " in html
    assert " am your time)" in html or "12:00 pm your time)" in html


def test_a_man_still_in_utc_is_told_so_plainly_and_a_man_with_a_zone_is_not() -> None:
    utc = make_verified("una@example.com", full_name="Una Utc")
    placed = make_verified("pat@example.com", full_name="Pat Placed", time_zone="Europe/London")

    assert "Times are shown in UTC — " in page(force_signed_in(utc), "/dashboard/")
    assert "set your time zone" in page(force_signed_in(utc), "/dashboard/")
    assert "Times are shown in UTC" not in page(force_signed_in(placed), "/dashboard/")


def test_asking_to_join_gives_a_man_still_in_utc_the_circles_zone_and_no_one_else() -> None:
    circle = la_circle()
    services.agreement_publish(circle=circle, text="Confidential.")
    utc = make_verified("una@example.com", full_name="Una Utc")
    placed = make_verified("pat@example.com", full_name="Pat Placed", time_zone="Europe/London")

    for man in (utc, placed):
        response = force_signed_in(man).post(
            f"/circles/{circle.slug}/join/", {"version": 1, "accept": "on"}
        )
        assert response.status_code == 302

    utc.refresh_from_db()
    placed.refresh_from_db()
    assert utc.time_zone == "America/Los_Angeles"
    assert placed.time_zone == "Europe/London"


# --- Leaving asks first, and the facilitator is told ---------------------------------------


@pytest.fixture
def leaving(db: None):
    circle = la_circle()
    facilitator = make_verified("fred@example.com", full_name="Fred Facilitator")
    join(facilitator, circle, role=Membership.Role.FACILITATOR)
    member = make_verified("ben@example.com", full_name="Ben Member")
    membership = join(member, circle)
    return circle, facilitator, member, membership


def test_leaving_shows_a_confirmation_first_and_the_get_writes_nothing(leaving) -> None:
    circle, _facilitator, member, membership = leaving
    client = force_signed_in(member)

    detail = page(client, circle.get_absolute_url())
    confirm = page(client, f"/circles/{circle.slug}/leave/")

    assert f'href="/circles/{circle.slug}/leave/"' in detail
    assert "Leave Mission Tuesday?" in confirm
    assert "A word to your facilitator (optional)" in confirm
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert mail.outbox == []


def test_leaving_with_a_word_tells_the_facilitator(leaving) -> None:
    circle, facilitator, member, membership = leaving

    with committed():
        response = force_signed_in(member).post(
            f"/circles/{circle.slug}/leave/", {"word": "Moving to Denver. Thank you all."}
        )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == Membership.Status.LEFT
    [email] = mail.outbox
    assert email.to == [facilitator.email]
    assert "Ben M. left Mission Tuesday" in email.subject
    assert "Moving to Denver. Thank you all." in email.body


def test_leaving_without_a_word_still_tells_the_facilitator(leaving) -> None:
    circle, facilitator, member, _membership = leaving

    with committed():
        force_signed_in(member).post(f"/circles/{circle.slug}/leave/")

    [email] = mail.outbox
    assert email.to == [facilitator.email]
    assert "He left no word." in email.body


def test_a_too_long_word_is_refused_plainly_and_he_stays(leaving) -> None:
    circle, _facilitator, member, membership = leaving

    response = force_signed_in(member).post(f"/circles/{circle.slug}/leave/", {"word": "x" * 1001})

    assert response.status_code == 400
    assert "Keep it under 1,000 characters." in response.content.decode()
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


def test_the_last_facilitator_cannot_leave_and_is_told_why(leaving) -> None:
    circle, facilitator, _member, _membership = leaving

    response = force_signed_in(facilitator).post(f"/circles/{circle.slug}/leave/", follow=True)

    assert Membership.objects.get(user=facilitator).status == Membership.Status.ACTIVE
    assert any("facilitator" in str(m) for m in response.context["messages"])


def test_outsiders_and_anonymous_cannot_reach_the_leave_page(leaving) -> None:
    circle, _facilitator, _member, _membership = leaving
    outsider = make_verified("otto@example.com", full_name="Otto Outsider")
    join(outsider, make_circle())
    url = f"/circles/{circle.slug}/leave/"

    assert force_signed_in(outsider).get(url).status_code == 404
    assert force_signed_in(outsider).post(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert Client().post(url).status_code == 302
    assert Membership.objects.filter(status=Membership.Status.LEFT).count() == 0


# --- Cancelling asks for a reason; reinstating tells them again -----------------------------


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def cancel(client: Client, *pks: int, reason: str | None = None):
    data: dict[str, object] = {"action": "cancel", "_selected_action": list(pks)}
    if reason is not None:
        data |= {"post": "yes", "reason": reason}
    return client.post("/admin/circles/meeting/", data)


def test_cancelling_asks_for_its_own_reason_and_tells_the_members_that_reason(
    world: World,
) -> None:
    meeting = make_meeting(world.a.circle, in_days=4, note="Bring a cushion")
    al = signed_in(world.a.facilitator)

    asked = cancel(al, meeting.pk)
    refused = cancel(al, meeting.pk, reason="   ")
    meeting.refresh_from_db()
    assert asked.status_code == 200 and "Cancel these meetings?" in asked.content.decode()
    assert refused.status_code == 400
    assert "Say why it is cancelled: the members read this." in refused.content.decode()
    assert meeting.status == Meeting.Status.SCHEDULED and mail.outbox == []

    with committed():
        done = cancel(al, meeting.pk, reason="I'm ill; see you next week.")

    assert done.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED
    assert meeting.cancel_reason == "I'm ill; see you next week."
    assert meeting.cancelled_at is not None
    assert meeting.note == "Bring a cushion"  # the old note is untouched and never sent
    to_member = [m for m in mail.outbox if m.to == [world.a.member.email]]
    assert len(to_member) == 1
    assert "I'm ill; see you next week." in to_member[0].body
    assert "Bring a cushion" not in to_member[0].body


def test_a_cancelled_meeting_is_reinstated_until_it_starts_with_a_second_notice(
    world: World,
) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    past = make_meeting(world.a.circle, in_days=-2)
    al = signed_in(world.a.facilitator)
    with committed():
        cancel(al, meeting.pk, reason="Snow.")
    services.meeting_cancel(meeting=past, reason="Flood.")
    mail.outbox.clear()

    with committed():
        al.post(
            "/admin/circles/meeting/",
            {"action": "reinstate", "_selected_action": [meeting.pk, past.pk]},
        )

    meeting.refresh_from_db()
    past.refresh_from_db()
    assert meeting.status == Meeting.Status.SCHEDULED
    assert meeting.cancel_reason == "" and meeting.cancelled_at is None
    assert past.status == Meeting.Status.CANCELLED  # it has started: too late
    to_member = [m for m in mail.outbox if m.to == [world.a.member.email]]
    assert len(to_member) == 1 and "On again" in to_member[0].subject

    # Cancelled again, the members hear of it again.
    with committed():
        cancel(al, meeting.pk, reason="Snow after all.")
    assert any("Snow after all." in m.body for m in mail.outbox if "Cancelled" in m.subject)


def test_another_circles_facilitator_cannot_cancel_or_reinstate(world: World) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    bob = signed_in(world.b.facilitator)

    cancel(bob, meeting.pk, reason="Not mine to cancel.")
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.SCHEDULED

    services.meeting_cancel(meeting=meeting, reason="Real reason.")
    bob.post("/admin/circles/meeting/", {"action": "reinstate", "_selected_action": [meeting.pk]})
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED
    assert mail.outbox == []


def test_the_meeting_form_cannot_cancel_behind_the_actions_back(world: World) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    al = signed_in(world.a.facilitator)

    response = al.post(
        f"/admin/circles/meeting/{meeting.pk}/change/",
        {**meeting_form(meeting), "status": "cancelled"},
    )

    assert response.status_code == 200
    assert "Cancel meetings" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.SCHEDULED


def test_cancelled_meetings_stay_listed_with_their_reason(world: World) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    services.meeting_cancel(meeting=meeting, reason="Holiday weekend.")
    member = force_signed_in(world.a.member)

    for url in ("/dashboard/", world.a.circle.get_absolute_url(), meeting.get_absolute_url()):
        html = page(member, url)
        assert "Holiday weekend." in html, url
        assert "ancelled" in html, url


# --- A meeting outside the pattern tells the members -----------------------------------------


def admin_add_meeting(client: Client, circle: Circle, starts: datetime):
    local = timezone.localtime(starts)
    ends = local + timedelta(minutes=90)
    return client.post(
        "/admin/circles/meeting/add/",
        {
            "circle": circle.pk,
            "starts_at_0": f"{local:%Y-%m-%d}",
            "starts_at_1": f"{local:%H:%M:%S}",
            "ends_at_0": f"{ends:%Y-%m-%d}",
            "ends_at_1": f"{ends:%H:%M:%S}",
            "status": "scheduled",
            "note": "",
            "leader": "",
        },
    )


def test_a_meeting_outside_the_pattern_tells_the_members_and_a_regular_one_does_not(
    world: World,
) -> None:
    circle = world.a.circle  # Tuesdays, 19:00 New York
    al = signed_in(world.a.facilitator)
    regular = next_tuesday_7pm(circle) + timedelta(days=14)
    extra = regular + timedelta(days=2)  # a Thursday

    with committed():
        assert admin_add_meeting(al, circle, regular).status_code == 302
    assert mail.outbox == []

    with committed():
        assert admin_add_meeting(al, circle, extra).status_code == 302
    to_member = [m for m in mail.outbox if m.to == [world.a.member.email]]
    assert len(to_member) == 1
    assert "Extra date: Alder Circle on Thursday" in to_member[0].subject
    assert "Thursday" in to_member[0].body and "7:00 pm New York time" in to_member[0].body
    assert Meeting.objects.get(circle=circle, starts_at=extra).get_absolute_url() in (
        to_member[0].body
    )


# --- The circle page and the meeting page -------------------------------------------------


@pytest.fixture
def week(db: None):
    circle = la_circle(first_night="We start with tea at 6:45. Come as you are.")
    services.agreement_publish(circle=circle, text="Confidential.")
    marcus = make_verified("marcus@example.com", full_name="Marcus Reyes")
    join(marcus, circle, role=Membership.Role.FACILITATOR, bio="Twenty years in men's work.")
    daniel = make_verified("daniel@example.com", full_name="Daniel Ortiz")
    join(daniel, circle)
    services.agreement_accept(user=daniel, circle=circle, version=1)
    sam = make_verified("sam@example.com", full_name="Sam Stone")
    join(sam, circle)
    meeting = meeting_at(circle, next_tuesday_7pm(circle), leader=daniel)
    RSVP.objects.create(meeting=meeting, user=sam, response=RSVP.Response.YES)
    RSVP.objects.create(meeting=meeting, user=marcus, response=RSVP.Response.NO)
    DuesTier.objects.create(name="Low", amount_cents=2000, stripe_price_id="price_low")
    DuesTier.objects.create(name="High", amount_cents=6000, stripe_price_id="price_high")
    outsider = make_verified("otto@example.com", full_name="Otto Outsider")
    join(outsider, make_circle())
    return circle, marcus, daniel, sam, meeting, outsider


def test_the_circle_page_says_what_a_man_needs_to_anyone(week) -> None:
    circle, *_rest, meeting, outsider = week

    for client in (Client(), force_signed_in(outsider)):
        html = page(client, circle.get_absolute_url())
        assert "Next meeting: <strong>" in html
        assert times.moment_text(meeting.starts_at, circle, None) in html
        assert "<strong>Marcus R.</strong>: Twenty years in men&#x27;s work." in html
        assert "R.." not in html
        assert "Your first night" in html and "We start with tea at 6:45." in html
        assert "Dues: 20\u201360 USD a month" in html
        assert "221B Secret Street" not in html
        assert "secret-room" not in html


def test_the_meeting_page_shows_place_and_who_is_coming_to_members_only(week) -> None:
    _circle, _marcus, daniel, sam, meeting, outsider = week
    url = meeting.get_absolute_url()

    html = page(force_signed_in(sam), url)
    assert "221B Secret Street" in html
    assert "https://video.example.com/secret-room" in html
    assert "Sam S." in html.split("Who's coming")[1].split("Can't come")[0]
    assert "Can't come: Marcus R." in html
    assert "Led by Daniel O." in html
    assert "You're leading this week" not in html

    assert "You're leading this week" in page(force_signed_in(daniel), url)

    assert force_signed_in(outsider).get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_leaders_reminder_says_he_leads(week) -> None:
    _circle, _marcus, daniel, sam, meeting, _outsider = week

    queue_reminders(now=meeting.starts_at - timedelta(hours=23, minutes=30))

    by_man = {
        n.user.email: n.body
        for n in Notification.objects.filter(kind="reminder_24h", channel="email")
    }
    subjects = {
        n.subject for n in Notification.objects.filter(kind="reminder_24h", channel="email")
    }
    when = times.moment_text(meeting.starts_at, meeting.circle, None)
    assert subjects == {f"Reminder: Mission Tuesday meets {when}"}
    assert "You're leading this week." in by_man[daniel.email]
    assert "You're leading this week." not in by_man[sam.email]
    assert "Daniel O. leads this week." in by_man[sam.email]


def test_a_facilitator_writes_his_bio_and_the_first_night_in_the_admin(world: World) -> None:
    circle = world.a.circle
    al = signed_in(world.a.facilitator)

    form_page = page(al, f"/admin/circles/circle/{circle.pk}/change/")
    assert 'name="my_bio"' in form_page and 'name="first_night"' in form_page
    response = al.post(
        f"/admin/circles/circle/{circle.pk}/change/",
        circle_form(circle, my_bio="I listen more than I talk.", first_night="Tea first."),
    )

    assert response.status_code == 302
    circle.refresh_from_db()
    assert circle.first_night == "Tea first."
    seat = Membership.objects.get(circle=circle, user=world.a.facilitator)
    assert seat.bio == "I listen more than I talk."
    html = page(Client(), circle.get_absolute_url())
    assert "I listen more than I talk." in html


def test_a_superuser_who_does_not_facilitate_gets_no_bio_field(world: World) -> None:
    root = signed_in(world.superuser)
    assert 'name="my_bio"' not in page(root, f"/admin/circles/circle/{world.a.circle.pk}/change/")


def test_another_circles_facilitator_cannot_write_a_bio_there(world: World) -> None:
    bob = signed_in(world.b.facilitator)
    circle = world.a.circle

    response = bob.post(
        f"/admin/circles/circle/{circle.pk}/change/", circle_form(circle, my_bio="Hijack")
    )

    assert response.status_code in (302, 404)
    assert not Membership.objects.filter(bio="Hijack").exists()


def test_a_cancelled_meetings_own_page_puts_it_back_on_after_asking(world: World) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    services.meeting_cancel(meeting=meeting, reason="Snow.")
    mail.outbox.clear()
    al = signed_in(world.a.facilitator)
    url = f"/admin/circles/meeting/{meeting.pk}/reinstate/"

    change_page = al.get(f"/admin/circles/meeting/{meeting.pk}/change/").content.decode()
    asked = al.get(url)
    meeting.refresh_from_db()
    assert url in change_page
    assert asked.status_code == 200 and "Put this meeting back on?" in asked.content.decode()
    assert meeting.status == Meeting.Status.CANCELLED and mail.outbox == []  # the GET only asks

    with committed():
        done = al.post(url)

    assert done.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.SCHEDULED and meeting.cancel_reason == ""
    to_member = [m.subject for m in mail.outbox if m.to == [world.a.member.email]]
    assert len(to_member) == 1 and "On again" in to_member[0]
    # Once on again, the page has nothing to offer and a second POST changes nothing.
    assert url not in al.get(f"/admin/circles/meeting/{meeting.pk}/change/").content.decode()
    mail.outbox.clear()
    again = al.post(url, follow=True)
    assert [str(m) for m in again.context["messages"]] == [services.NOT_REINSTATABLE]
    assert mail.outbox == []


def test_a_meeting_that_has_started_is_not_put_back_on(world: World) -> None:
    past = make_meeting(world.a.circle, in_days=-1)
    services.meeting_cancel(meeting=past, reason="Flood.")
    al = signed_in(world.a.facilitator)
    url = f"/admin/circles/meeting/{past.pk}/reinstate/"

    shown = al.get(url).content.decode()
    al.post(url)

    past.refresh_from_db()
    assert "cannot be put back on" in shown
    assert past.status == Meeting.Status.CANCELLED


def test_only_the_circles_facilitator_reaches_the_reinstate_page(world: World) -> None:
    meeting = make_meeting(world.a.circle, in_days=4)
    services.meeting_cancel(meeting=meeting, reason="Snow.")
    url = f"/admin/circles/meeting/{meeting.pk}/reinstate/"
    bob = signed_in(world.b.facilitator)
    member = signed_in(world.a.member)
    outsider = signed_in(world.outsider)

    assert bob.get(url).status_code == 404
    assert bob.post(url).status_code == 404
    for client in (member, outsider, Client()):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED
