"""What an organiser does in the events admin: check-in at the door, the CSV, the counts, messages.

The world of test_admin_scope (tests/events/org_world.py): Olly runs Oak.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from events import admin_views, broadcasts
from events.models import Event, Registration
from notifications import sms
from notifications.models import Notification
from tests.circles.conftest import make_verified
from tests.conftest import committed, force_signed_in, signed_in
from tests.events.conftest import register_directly
from tests.events.org_world import FORMULA, World, make_world

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def door(world: World) -> str:
    return f"/admin/events/event/{world.oak.pk}/door/"


# --- Check-in at the door ---------------------------------------------------------------


def test_the_door_lists_the_confirmed_men_with_a_large_button_each(world: World) -> None:
    response = signed_in(world.olly).get(door(world))

    assert response.status_code == 200
    assert [r.user.full_name for r in response.context["registrations"]] == ["Bob Oakes"]
    text = response.content.decode()
    assert "Wes Waiting" not in text and "Carl Cancelled" not in text  # not confirmed
    assert 'class="door-arrived"' in text
    assert "csrfmiddlewaretoken" in text  # each tap is a POST with its token
    assert "admin-events.css" in text
    assert "0</strong> of 1 arrived" in text


def test_one_tap_marks_him_arrived_and_a_second_tap_changes_nothing(world: World) -> None:
    client = signed_in(world.olly)

    first = client.post(door(world), {"registration": world.bob_at_oak.pk})
    world.bob_at_oak.refresh_from_db()
    arrived_at = world.bob_at_oak.arrived_at
    again = client.post(door(world), {"registration": world.bob_at_oak.pk})
    world.bob_at_oak.refresh_from_db()

    assert first.status_code == again.status_code == 302
    assert first["Location"] == f"{door(world)}#r{world.bob_at_oak.pk}"
    assert arrived_at is not None
    assert world.bob_at_oak.arrived_at == arrived_at
    page = client.get(door(world)).content.decode()
    assert "1</strong> of 1 arrived" in page
    assert 'class="door-undo"' in page


def test_a_wrong_tap_is_undone(world: World) -> None:
    client = signed_in(world.olly)
    client.post(door(world), {"registration": world.bob_at_oak.pk})

    client.post(door(world), {"registration": world.bob_at_oak.pk, "undo": "yes"})

    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


def test_the_door_search_finds_a_man_by_name_and_keeps_the_search_after_a_tap(world: World) -> None:
    client = signed_in(world.olly)
    other = register_directly(world.oak, make_verified("zed@example.com", full_name="Zed Zulu"))

    found = client.get(door(world), {"q": "zul"})
    tapped = client.post(door(world), {"registration": other.pk, "q": "zul"})

    assert [r.user.full_name for r in found.context["registrations"]] == ["Zed Zulu"]
    assert tapped["Location"] == f"{door(world)}?q=zul#r{other.pk}"


@pytest.mark.parametrize("value", ["", "abc", "-1", "1" * 40, "0"])
def test_a_bad_registration_id_changes_nothing_and_says_so(world: World, value: str) -> None:
    client = signed_in(world.olly)

    response = client.post(door(world), {"registration": value}, follow=True)

    assert response.status_code == 200
    assert admin_views.NOT_AT_THE_DOOR in response.content.decode()
    assert not Registration.objects.filter(arrived_at__isnull=False).exists()


def test_only_his_events_confirmed_men_can_be_marked_at_his_door(world: World) -> None:
    client = signed_in(world.olly)

    for registration in (world.wes_at_oak, world.carl_at_oak, world.pat_at_pine):
        response = client.post(door(world), {"registration": registration.pk}, follow=True)
        assert admin_views.NOT_AT_THE_DOOR in response.content.decode()

    assert not Registration.objects.filter(arrived_at__isnull=False).exists()


def test_a_tap_without_the_csrf_token_is_refused(world: World) -> None:
    client = force_signed_in(world.olly, Client(enforce_csrf_checks=True))

    response = client.post(door(world), {"registration": world.bob_at_oak.pk})

    assert response.status_code == 403
    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


def test_a_get_never_marks_anyone(world: World) -> None:
    signed_in(world.olly).get(door(world), {"registration": world.bob_at_oak.pk})

    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


def test_a_cancelled_event_has_no_door(world: World) -> None:
    Event.objects.filter(pk=world.oak.pk).update(status=Event.Status.CANCELLED)
    client = signed_in(world.olly)

    page = client.get(door(world)).content.decode()
    response = client.post(door(world), {"registration": world.bob_at_oak.pk}, follow=True)

    assert "This event is cancelled" in page
    assert admin_views.DOOR_CLOSED in response.content.decode()
    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


def test_the_registrations_list_actions_mark_arrived_and_undo(world: World) -> None:
    client = signed_in(world.olly)
    url = "/admin/events/registration/"
    selected = [world.bob_at_oak.pk, world.wes_at_oak.pk]

    marked = client.post(url, {"action": "mark_arrived", "_selected_action": selected}, follow=True)
    world.bob_at_oak.refresh_from_db()
    world.wes_at_oak.refresh_from_db()

    assert world.bob_at_oak.arrived_at is not None
    assert world.wes_at_oak.arrived_at is None  # waitlisted: not at the door
    assert "Wes Waiting" in marked.content.decode()

    client.post(url, {"action": "mark_not_arrived", "_selected_action": selected})
    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


# --- Counts on the event's page -----------------------------------------------------------


def test_the_event_page_counts_seats_taken_paid_and_waitlisted(world: World) -> None:
    paying = make_verified("payer@example.com", full_name="Pay Er")
    Registration.objects.filter(pk=world.bob_at_oak.pk).update(payment="paid", amount_cents=9000)
    register_directly(world.oak, paying, status=Registration.Status.HELD, payment="pending")

    response = signed_in(world.olly).get(f"/admin/events/event/{world.oak.pk}/change/")

    counts = response.context["counts"]
    assert (counts.taken, counts.capacity) == (2, 2)
    assert (counts.confirmed, counts.paid, counts.waitlisted, counts.arrived) == (1, 1, 1, 0)
    text = response.content.decode()
    assert "2 of 2" in text
    for link in ("door/", "registrations.csv", "message/"):
        assert f"/admin/events/event/{world.oak.pk}/{link}" in text


def test_the_event_list_shows_seats_paid_and_waitlisted_in_one_query_per_page(
    world: World, django_assert_max_num_queries
) -> None:
    client = signed_in(world.superuser)
    response = client.get("/admin/events/event/")
    oak = next(e for e in response.context["cl"].result_list if e.pk == world.oak.pk)

    assert (oak.seats_taken, oak.paid_count, oak.waitlisted_count) == (1, 0, 1)
    assert "1/2" in response.content.decode()

    # More events cost no more queries.
    for n in range(5):
        register_directly(
            Event.objects.create(
                title=f"More {n}",
                starts_at=world.oak.starts_at,
                ends_at=world.oak.ends_at,
                capacity=5,
                status="open",
            ),
            make_verified(f"more{n}@example.com"),
        )
    with django_assert_max_num_queries(len(_queries(client))):
        client.get("/admin/events/event/")


def _queries(client: Client) -> list:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get("/admin/events/event/")
    return captured.captured_queries


# --- The CSV ------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_holds_every_registration_with_its_answers_and_no_formula(world: World) -> None:
    response = signed_in(world.olly).get(f"/admin/events/event/{world.oak.pk}/registrations.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[-2:] == ["Dietary needs", "Emergency contact"]
    assert [row[0] for row in rows] == ["Bob Oakes", "Wes Waiting", "Carl Cancelled"]
    bob = rows[0]
    assert bob[1] == "bob@example.com"
    assert bob[2] == "Confirmed"
    assert bob[-2] == "Vegetarian"
    assert bob[-1] == "'" + FORMULA  # shown as text, never run
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_a_formula_in_a_name_or_a_question_is_made_text(world: World) -> None:
    world.bob.full_name = "=cmd|' /C calc'!A0"
    world.bob.save(update_fields=["full_name"])
    world.dietary.label = "+SUM(1,2)"
    world.dietary.save(update_fields=["label"])

    rows = read_csv(
        signed_in(world.olly).get(f"/admin/events/event/{world.oak.pk}/registrations.csv")
    )

    assert "'+SUM(1,2)" in rows[0]
    assert rows[1][0] == "'=cmd|' /C calc'!A0"


# --- Message the men registered -----------------------------------------------------------


def message(client: Client, world: World, **data):
    fields = {"channels": ["email"], "title": "Bring a blanket", "text": "It gets cold at night."}
    fields.update(data)
    fields.setdefault("key", broadcasts.uuid4().hex)
    return client.post(f"/admin/events/event/{world.oak.pk}/message/", fields)


def test_a_message_goes_to_every_man_registered_but_not_the_cancelled_once(world: World) -> None:
    client = signed_in(world.olly)

    with committed():
        response = message(client, world, key="b" * 32)
        again = message(client, world, key="b" * 32)  # the form sent twice

    assert response.status_code == again.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com", "wes@example.com"]
    assert "Bring a blanket" in mail.outbox[0].subject
    assert "Olly O." in mail.outbox[0].body  # his public name, not his address
    assert "olly@example.com" not in mail.outbox[0].body


def test_the_message_page_says_who_it_goes_to_and_the_limit(world: World) -> None:
    response = signed_in(world.olly).get(f"/admin/events/event/{world.oak.pk}/message/")

    text = response.content.decode()
    assert "To the 2 men registered for Oak retreat" in text
    assert "0 of 3 messages" in text


def test_the_fourth_message_in_a_day_is_refused_and_sends_nothing(world: World) -> None:
    client = signed_in(world.olly)
    for _ in range(3):
        assert message(client, world).status_code == 302

    refused = message(client, world, text="One more thing.")

    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors() == [broadcasts.TOO_MANY]
    assert Notification.objects.filter(kind="event_broadcast").count() == 6
    # A day later the window has room again.
    Notification.objects.filter(kind="event_broadcast").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert message(client, world).status_code == 302


def test_a_message_by_sms_is_limited_like_a_circles(world: World) -> None:
    response = signed_in(world.olly).post(
        f"/admin/events/event/{world.oak.pk}/message/",
        {"channels": ["sms"], "title": "", "text": "x" * 400, "key": "c" * 32},
    )

    assert response.status_code == 200
    assert "A text message can be at most 320 characters" in response.content.decode()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"channels": ["email"], "title": "", "text": "Hi"},
        {"channels": [], "title": "T", "text": "Hi"},
        {"channels": ["fax"], "title": "T", "text": "Hi"},
        {"channels": ["email"], "title": "T", "text": ""},
        {"channels": ["email"], "title": "T", "text": "x" * 1001},
        {"channels": ["email"], "title": "T", "text": "Hi", "key": "not-hex"},
    ],
)
def test_bad_message_input_is_answered_on_the_form_and_sends_nothing(
    world: World, data: dict
) -> None:
    data.setdefault("key", "d" * 32)
    response = signed_in(world.olly).post(f"/admin/events/event/{world.oak.pk}/message/", data)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Notification.objects.exists()


def test_the_service_refuses_a_sender_who_does_not_organise_the_event(world: World) -> None:
    with pytest.raises(broadcasts.BroadcastError, match="Only an organiser"):
        broadcasts.event_broadcast_send(
            event=world.oak, sender=world.otto, title="T", text="Hi", channels=["email"]
        )
    assert not Notification.objects.exists()


# --- Times in the event's own zone --------------------------------------------------------


def test_an_event_is_made_with_its_times_in_its_own_zone(world: World) -> None:
    client = signed_in(world.olly)
    data = {
        "title": "Tokyo evening",
        "slug": "",
        "description": "",
        "starts_at_0": "2030-05-01",
        "starts_at_1": "19:00:00",
        "ends_at_0": "2030-05-01",
        "ends_at_1": "21:00:00",
        "time_zone": "Asia/Tokyo",
        "public_area": "Shibuya",
        "address": "",
        "joining_details": "",
        "capacity": "12",
        "visibility": "public",
        "circle": "",
        "status": "draft",
        "registration_deadline_0": "",
        "registration_deadline_1": "",
    }
    for prefix in ("tiers", "questions"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )

    response = client.post("/admin/events/event/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = Event.objects.get(title="Tokyo evening")
    assert event.starts_at.isoformat() == "2030-05-01T10:00:00+00:00"  # 19:00 in Tokyo
    assert list(event.organisers.all()) == [world.olly]  # whoever makes it organises it
    page = client.get(f"/admin/events/event/{event.pk}/change/")
    assert 'name="starts_at_1" value="19:00:00"' in page.content.decode()
    assert "In the event's time zone" in page.content.decode().replace("&#x27;", "'")


# --- Free places (the payment flow's actions, on his registrations list) -------------------


def test_an_organiser_grants_a_free_place_from_the_list_and_only_on_his_event(
    world: World,
) -> None:
    from events import payments, services
    from tests.events.conftest import add_tier

    add_tier(world.oak, "Standard", 15000)
    Event.objects.filter(pk=world.oak.pk).update(capacity=5)
    world.oak.refresh_from_db()
    asker = make_verified("asker@example.com", full_name="Al Asker")
    registration = services.register(event=world.oak, user=asker, tier=world.oak.tiers.get())
    payments.free_place_request(registration=registration, reason="Between jobs.")
    add_tier(world.pine, "Standard", 15000)
    other = services.register(
        event=world.pine, user=make_verified("p2@example.com"), tier=world.pine.tiers.get()
    )
    payments.free_place_request(registration=other, reason="Please.")
    client = signed_in(world.olly)

    listed = client.get("/admin/events/registration/", {"payment__exact": "free_place_requested"})
    assert [r.pk for r in listed.context["cl"].result_list] == [registration.pk]
    page = client.get(f"/admin/events/registration/{registration.pk}/change/")
    assert "Between jobs." in page.content.decode()

    with committed():
        client.post(
            "/admin/events/registration/",
            {"action": "approve_free_place", "_selected_action": [registration.pk, other.pk]},
        )

    registration.refresh_from_db()
    other.refresh_from_db()
    assert (registration.status, registration.payment) == ("confirmed", "free_place")
    assert other.payment == "free_place_requested"  # not his event: not in his list
    assert any(m.to == ["asker@example.com"] and "registered" in m.subject for m in mail.outbox)


def test_the_registrations_list_costs_the_same_queries_for_few_or_many_men(
    world: World, django_assert_max_num_queries
) -> None:
    client = signed_in(world.olly)
    client.get("/admin/events/registration/")
    few = len(_queries_of(client, "/admin/events/registration/"))
    for n in range(8):
        registration = register_directly(world.oak, make_verified(f"many{n}@example.com"))
        registration.answers.create(question=world.dietary, value=f"Diet {n}")

    with django_assert_max_num_queries(few):
        response = client.get("/admin/events/registration/")
    assert "Diet 7" in response.content.decode()


def _queries_of(client: Client, url: str) -> list:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return captured.captured_queries
