"""The event pages by persona: who sees which event, and what of it; registering from the page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from circles.models import Membership
from events import services
from events.models import Event, Registration
from tests.circles.conftest import join, make_circle, make_facilitator, make_verified
from tests.conftest import capture_all_queries, signed_in
from tests.events.conftest import (
    People,
    add_question,
    add_tier,
    make_event,
    make_organiser,
    register_directly,
)

pytestmark = pytest.mark.django_db(databases="__all__")

ADDRESS = "221B Secret Street, Apt 4"  # make_event's
JOINING = "the door code is 4711"
PERSONAS = ["anonymous", "member", "registered", "organiser", "other_facilitator"]


def client_for(people: People | None, persona: str) -> Client:
    if persona == "anonymous":
        return Client()
    return signed_in(getattr(people, persona))


def text(response) -> str:
    return html.unescape(response.content.decode())


# --- Who sees which event ---------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_public_event_shows_to_everyone_and_its_address_only_to_the_registered_and_organisers(
    event: Event, people: People, persona: str
) -> None:
    client = client_for(people, persona)

    listing = client.get("/events/")
    page = client.get(event.get_absolute_url())

    assert listing.status_code == page.status_code == 200
    assert event.title in text(listing)
    assert event.title in text(page) and event.public_area in text(page)
    private = persona in ("registered", "organiser")
    assert (ADDRESS in text(page)) is private
    assert (JOINING in text(page)) is private
    assert ADDRESS not in text(listing)


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_members_only_event_is_hidden_from_anonymous_visitors(
    event: Event, people: People, persona: str
) -> None:
    Event.objects.filter(pk=event.pk).update(visibility=Event.Visibility.MEMBERS)
    client = client_for(people, persona)

    listing, page = client.get("/events/"), client.get(event.get_absolute_url())

    if persona == "anonymous":
        assert page.status_code == 404 and event.title not in text(listing)
    else:
        assert page.status_code == 200 and event.title in text(listing)


@pytest.mark.parametrize("persona", [*PERSONAS, "circle_member", "circle_facilitator"])
def test_a_circle_event_shows_only_to_that_circles_men_and_organisers(
    event: Event, people: People, persona: str
) -> None:
    circle = make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday")
    Event.objects.filter(pk=event.pk).update(visibility=Event.Visibility.CIRCLE, circle=circle)
    if persona == "circle_member":
        insider = make_verified("in@example.com")
        join(insider, circle)
        client = signed_in(insider)
    elif persona == "circle_facilitator":
        client = signed_in(make_facilitator("lead@example.com", circle))
    else:
        client = client_for(people, persona)

    listing, page = client.get("/events/"), client.get(event.get_absolute_url())

    # The registered man registered while he could see it: he keeps seeing it.
    sees = persona in ("registered", "organiser", "circle_member", "circle_facilitator")
    assert (page.status_code == 200) is sees
    assert (event.title in text(listing)) is sees
    if sees:
        assert (ADDRESS in text(page)) is (persona != "circle_member")


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_draft_is_listed_to_nobody_and_previewed_only_by_its_organisers(
    event: Event, people: People, persona: str
) -> None:
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DRAFT)
    client = client_for(people, persona)

    listing, page = client.get("/events/"), client.get(event.get_absolute_url())

    assert event.title not in text(listing)
    assert (page.status_code == 200) is (persona == "organiser")
    if persona == "organiser":
        assert "A draft: only its organisers see this page." in text(page)


def test_a_superuser_and_organisers_group_staff_see_circle_events(superuser) -> None:
    circle = make_circle()
    event = make_event(visibility=Event.Visibility.CIRCLE, circle=circle)
    other_organiser = make_organiser("olly2@example.com")

    assert signed_in(superuser).get(event.get_absolute_url()).status_code == 200
    page = signed_in(other_organiser).get(event.get_absolute_url())
    assert page.status_code == 200
    assert ADDRESS not in text(page)  # he organises other events, not this one


def test_an_unknown_event_is_a_404() -> None:
    assert Client().get("/events/no-such-event/").status_code == 404


def test_past_and_cancelled_events_leave_the_listing(db) -> None:
    past = make_event(
        title="Last year's retreat",
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() - timedelta(days=2),
    )
    cancelled = make_event(title="Called off", status=Event.Status.CANCELLED)
    soon = make_event(title="Soon", starts_at=timezone.now() + timedelta(days=1))
    soon.ends_at = soon.starts_at + timedelta(hours=2)
    Event.objects.filter(pk=soon.pk).update(ends_at=soon.ends_at)
    later = make_event(title="Later on")

    listing = text(Client().get("/events/"))

    assert past.title not in listing and cancelled.title not in listing
    assert listing.index(soon.title) < listing.index(later.title)
    assert "This event is cancelled." in text(Client().get(cancelled.get_absolute_url()))


def test_times_are_shown_in_the_events_time_zone(db) -> None:
    starts = timezone.now().replace(year=timezone.now().year + 1, month=3, day=6, hour=15, minute=0)
    event = make_event(starts_at=starts, ends_at=starts + timedelta(hours=6))

    page = text(Client().get(event.get_absolute_url()))

    # 15:00 UTC is 10:00 in New York in March before the clocks change.
    assert "10:00 am to 4:00 pm New York time" in page


# --- Registering from the page ----------------------------------------------------------


def test_anonymous_visitors_are_asked_to_sign_in(event: Event) -> None:
    page = text(Client().get(event.get_absolute_url()))
    assert "Sign in to register" in page

    response = Client().post(f"/events/{event.slug}/register/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Registration.objects.exists()


def test_a_member_registers_with_his_answers_and_sees_the_address(
    event: Event, people: People
) -> None:
    question = add_question(event, "Dietary needs", required=True)
    client = signed_in(people.member)
    page = text(client.get(event.get_absolute_url()))
    assert 'action="/events/' in page and "Dietary needs (required)" in page

    response = client.post(f"/events/{event.slug}/register/", {f"q{question.pk}": "No nuts"})

    assert response.status_code == 302
    page = text(client.get(event.get_absolute_url()))
    assert services.REGISTERED in page and ADDRESS in page
    assert "No nuts" in page
    registration = Registration.objects.get(user=people.member)
    assert registration.answers.get().value == "No nuts"


def test_a_missing_answer_is_shown_beside_its_field_and_nothing_is_saved(
    event: Event, people: People
) -> None:
    question = add_question(event, "Emergency contact", kind="emergency_contact", required=True)

    response = signed_in(people.member).post(
        f"/events/{event.slug}/register/", {f"q{question.pk}": "  "}
    )

    assert response.status_code == 400
    assert "Please answer: Emergency contact" in text(response)
    assert not Registration.objects.filter(user=people.member).exists()


def test_an_answer_too_long_is_refused(event: Event, people: People) -> None:
    question = add_question(event, "Anything else?")
    response = signed_in(people.member).post(
        f"/events/{event.slug}/register/", {f"q{question.pk}": "x" * 1001}
    )
    assert response.status_code == 400
    assert services.ANSWER_TOO_LONG in text(response)


def test_a_paid_event_asks_for_a_ticket(event: Event, people: People) -> None:
    tier = add_tier(event, "Supported", 5000)
    client = signed_in(people.member)

    missing = client.post(f"/events/{event.slug}/register/", {})
    bogus = client.post(f"/events/{event.slug}/register/", {"tier": "999999"})
    good = client.post(f"/events/{event.slug}/register/", {"tier": str(tier.pk)})

    assert missing.status_code == bogus.status_code == 400
    assert services.CHOOSE_TIER in text(missing)
    assert services.NO_SUCH_TIER in text(bogus)
    assert good.status_code == 302
    registration = Registration.objects.get(user=people.member)
    assert registration.status == Registration.Status.HELD
    page = text(client.get(event.get_absolute_url()))
    assert "Your seat is kept for you until" in page
    assert ADDRESS not in page  # not confirmed until he has paid


def test_an_unverified_man_is_told_to_verify(event: Event, people: People) -> None:
    client = signed_in(people.unverified)
    assert "Please verify your email address to register" in text(
        client.get(event.get_absolute_url())
    )

    response = client.post(f"/events/{event.slug}/register/", {})

    assert response.status_code == 302
    assert services.NOT_VERIFIED in text(client.get(event.get_absolute_url()))
    assert not Registration.objects.filter(user=people.unverified).exists()


@pytest.mark.parametrize("persona", ["member", "other_facilitator"])
def test_nobody_registers_for_an_event_he_may_not_see(
    event: Event, people: People, persona: str
) -> None:
    Event.objects.filter(pk=event.pk).update(
        visibility=Event.Visibility.CIRCLE, circle=make_circle()
    )
    client = client_for(people, persona)
    for action in ("register", "cancel", "offer"):
        assert client.post(f"/events/{event.slug}/{action}/", {}).status_code == 404
    assert not Registration.objects.filter(user=getattr(people, persona)).exists()


def test_registering_twice_says_so(event: Event, people: People) -> None:
    client = signed_in(people.registered)
    page = text(client.get(event.get_absolute_url()))
    assert "You are registered" in page and 'action="/events/' in page
    assert f"/events/{event.slug}/register/" not in page

    response = client.post(f"/events/{event.slug}/register/", {})

    assert response.status_code == 302
    assert services.ALREADY_REGISTERED in text(client.get(event.get_absolute_url()))


def test_the_pages_refuse_get_on_actions(event: Event, people: People) -> None:
    client = signed_in(people.member)
    for action in ("register", "cancel", "offer"):
        assert client.get(f"/events/{event.slug}/{action}/").status_code == 405


def test_the_registered_man_cancels_and_the_seat_goes_to_the_waitlist(
    event: Event, people: People
) -> None:
    Event.objects.filter(pk=event.pk).update(capacity=1)
    client = signed_in(people.registered)
    waiting = signed_in(people.member)
    waiting.post(f"/events/{event.slug}/register/", {})
    assert "You are on the waitlist, number 1" in text(waiting.get(event.get_absolute_url()))

    response = client.post(f"/events/{event.slug}/cancel/")

    assert response.status_code == 302
    assert services.CANCELLED in text(client.get(event.get_absolute_url()))
    page = text(waiting.get(event.get_absolute_url()))
    assert "A seat is yours if you want it" in page

    waiting.post(f"/events/{event.slug}/offer/", {"answer": "accept"})

    assert Registration.objects.get(user=people.member).status == Registration.Status.CONFIRMED
    assert ADDRESS in text(waiting.get(event.get_absolute_url()))


def test_declining_an_offer_from_the_page(event: Event, people: People) -> None:
    Event.objects.filter(pk=event.pk).update(capacity=1)
    waiting = signed_in(people.member)
    waiting.post(f"/events/{event.slug}/register/", {})
    services.cancel(registration=Registration.objects.get(user=people.registered))

    bad = waiting.post(f"/events/{event.slug}/offer/", {"answer": "maybe"})
    assert bad.status_code == 302
    assert services.NO_OFFER in text(waiting.get(event.get_absolute_url()))
    waiting.post(f"/events/{event.slug}/offer/", {"answer": "decline"})

    assert Registration.objects.get(user=people.member).status == Registration.Status.CANCELLED


def test_cancelling_without_a_registration_changes_nothing(event: Event, people: People) -> None:
    client = signed_in(people.member)
    response = client.post(f"/events/{event.slug}/cancel/")
    assert response.status_code == 302
    assert services.NOT_CANCELLABLE in text(client.get(event.get_absolute_url()))


def test_after_the_deadline_the_page_says_registration_closed(event: Event, people: People) -> None:
    Event.objects.filter(pk=event.pk).update(
        registration_deadline=timezone.now() - timedelta(hours=1)
    )
    member_page = text(signed_in(people.member).get(event.get_absolute_url()))
    registered_page = text(signed_in(people.registered).get(event.get_absolute_url()))

    assert "Registration has closed." in member_page
    assert f"/events/{event.slug}/register/" not in member_page
    assert f"/events/{event.slug}/cancel/" not in registered_page


# --- Search and pages -------------------------------------------------------------------


def test_search_finds_events_by_title_area_and_description(db) -> None:
    make_event(title="Winter retreat", public_area="Catskills")
    make_event(title="Open evening", description="Come and meet a circle in Queens.")
    make_event(title="Facilitator training day")

    def found(q: str) -> list[str]:
        return re.findall(
            r"<h2><a [^>]+>([^<]+)</a></h2>", text(Client().get("/events/", {"q": q}))
        )

    assert found("retreat") == ["Winter retreat"]
    assert found("catsk") == ["Winter retreat"]
    assert found("queens") == ["Open evening"]
    assert found("training") == ["Facilitator training day"]
    assert found("nothing-like-it") == []
    assert "No event matches" in text(Client().get("/events/", {"q": "zzz"}))
    assert found("!!! ' \" & | :*") == []


def test_pages_of_twenty_with_links_and_htmx_more_and_no_count(db) -> None:
    start = timezone.now() + timedelta(days=2)
    for i in range(45):
        at = start + timedelta(hours=i)
        make_event(title=f"Evening {i:02d}", starts_at=at, ends_at=at + timedelta(hours=1))
    client = Client()

    with capture_all_queries() as captured:
        first = text(client.get("/events/"))
    sql = [q["sql"] for c in captured.values() for q in c]
    assert not any(s.upper().startswith("SELECT COUNT(") for s in sql)
    assert first.count('<article class="event-text">') == 20
    assert 'rel="next"' in first and "More events" in first and "hx-get" in first

    more = client.get("/events/?page=2", headers={"HX-Request": "true"})
    assert "<html" not in text(more) and text(more).count('<article class="event-text">') == 20

    last = text(client.get("/events/?page=3"))
    assert last.count('<article class="event-text">') == 5 and 'rel="next"' not in last
    assert "Evening 44" in last

    assert "is not a page number" in text(client.get("/events/?page=abc"))
    assert "There is no page 9" in text(client.get("/events/?page=9"))
    past = client.get("/events/?page=9", headers={"HX-Request": "true"})
    assert past.status_code == 200 and "No more events." in text(past)


def test_the_nav_links_to_events(db) -> None:
    assert 'href="/events/"' in text(Client().get("/"))


def test_the_listing_takes_a_fixed_number_of_queries(db) -> None:
    def queries() -> int:
        with capture_all_queries() as captured:
            assert Client().get("/events/").status_code == 200
        return sum(len(c) for c in captured.values())

    make_event()
    few = queries()
    for _ in range(10):
        event = make_event()
        for _ in range(3):
            register_directly(event, make_verified(f"r{Registration.objects.count()}@example.com"))
    assert queries() == few


# --- His registrations on the dashboard -------------------------------------------------


def test_his_registrations_show_on_his_dashboard_at_once_and_only_on_his(
    event: Event, people: People
) -> None:
    mine, theirs = signed_in(people.member), signed_in(people.registered)
    assert "You have not registered for any event" in text(mine.get("/dashboard/"))
    assert event.title in text(theirs.get("/dashboard/"))

    mine.post(f"/events/{event.slug}/register/", {})
    assert "You're registered." in text(mine.get("/dashboard/"))

    services.cancel(registration=Registration.objects.get(user=people.member))
    assert event.title not in text(mine.get("/dashboard/"))
    assert event.title in text(theirs.get("/dashboard/"))


def test_an_offer_shows_on_the_dashboard(event: Event, people: People) -> None:
    Event.objects.filter(pk=event.pk).update(capacity=1)
    client = signed_in(people.member)
    client.post(f"/events/{event.slug}/register/", {})
    assert "On the waitlist." in text(client.get("/dashboard/"))

    services.cancel(registration=Registration.objects.get(user=people.registered))

    assert "A seat is yours if you want it" in text(client.get("/dashboard/"))


def test_the_events_section_costs_the_dashboard_one_query_whatever_his_registrations(
    people: People,
) -> None:
    client = signed_in(people.member)

    def cold_then_warm() -> list[int]:
        cache.delete_pattern("*")
        counts = []
        for _ in range(5):
            with capture_all_queries() as captured:
                assert client.get("/dashboard/").status_code == 200
            counts.append(sum(len(c) for c in captured.values()))
        return counts

    few = cold_then_warm()
    for _ in range(5):
        register_directly(make_event(), people.member)
    assert cold_then_warm() == few
    # Cold: the session, the user, his memberships (with his dues), his meetings
    # and his registrations; warm: the session and the user alone.
    assert few[0] == 5 and few[-1] == 2


def test_his_events_section_follows_an_event_edited_and_an_offer_run_out(
    event: Event, people: People
) -> None:
    Event.objects.filter(pk=event.pk).update(capacity=1)
    client = signed_in(people.member)
    client.post(f"/events/{event.slug}/register/", {})
    signed_in(make_verified("next@example.com")).post(f"/events/{event.slug}/register/", {})
    services.cancel(registration=Registration.objects.get(user=people.registered))
    for _ in range(3):  # cached now
        assert "A seat is yours if you want it" in text(client.get("/dashboard/"))

    event.refresh_from_db()
    event.title = "A Renamed Gathering"
    event.save()
    assert "A Renamed Gathering" in text(client.get("/dashboard/"))

    Registration.objects.filter(user=people.member).update(
        offer_expires_at=timezone.now() - timedelta(minutes=1)
    )
    # (no signal: the cached section still shows the offer, until the lapse says so)
    services.offers_expire()  # his offer passes to the man behind him
    assert "On the waitlist." in text(client.get("/dashboard/"))


def test_a_circle_member_who_left_no_longer_sees_its_events(db) -> None:
    circle = make_circle()
    event = make_event(visibility=Event.Visibility.CIRCLE, circle=circle)
    him = make_verified("left@example.com")
    join(him, circle)
    client = signed_in(him)
    assert client.get(event.get_absolute_url()).status_code == 200

    Membership.objects.filter(user=him).update(status=Membership.Status.LEFT)

    assert client.get(event.get_absolute_url()).status_code == 404


def test_the_event_page_takes_a_fixed_number_of_queries(event: Event, people: People) -> None:
    client = signed_in(people.registered)
    registration = Registration.objects.get(user=people.registered)

    def queries() -> int:
        with capture_all_queries() as captured:
            assert client.get(event.get_absolute_url()).status_code == 200
        return sum(len(c) for c in captured.values())

    few = queries()
    for i in range(4):
        question = add_question(event, f"Question {i}")
        registration.answers.create(question=question, value=f"Answer {i}")
        add_tier(event, f"Tier {i}")
        register_directly(event, make_verified(f"q{i}@example.com"))
    assert queries() == few
    assert "Answer 3" in text(client.get(event.get_absolute_url()))
