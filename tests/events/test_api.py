"""The events API by persona: list, detail (private fields), registering with JWT."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import token_for
from accounts.models import User
from events import services
from events.models import Event, Registration
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import capture_all_queries
from tests.events.conftest import People, add_question, add_tier, make_event, register_directly

pytestmark = pytest.mark.django_db(databases="__all__")

EVENTS = "/api/v1/events/"
ADDRESS = "221B Secret Street, Apt 4"
PERSONAS = ["anonymous", "member", "registered", "organiser", "other_facilitator"]


def api(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user).access_token}")
    return client


def client_for(people: People, persona: str) -> APIClient:
    return api(None if persona == "anonymous" else getattr(people, persona))


def register(user: User | None, event: Event, body: Any = None, **extra: Any):
    return api(user).post(f"{EVENTS}{event.slug}/register/", body, format="json", **extra)


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_public_event_is_listed_to_all_and_its_address_only_to_registered_and_organisers(
    event: Event, people: People, persona: str
) -> None:
    client = client_for(people, persona)

    listing = client.get(EVENTS)
    detail = client.get(f"{EVENTS}{event.slug}/")

    assert listing.status_code == detail.status_code == 200
    assert [row["slug"] for row in listing.json()["results"]] == [event.slug]
    assert "address" not in listing.json()["results"][0]
    data = detail.json()
    private = persona in ("registered", "organiser")
    assert (data["address"] == ADDRESS) is private
    assert (data["joining_details"] is not None) is private
    assert data["seats_taken"] == 1 and data["time_zone"] == "America/New_York"
    assert data["starts_at"].endswith("Z")
    mine = data["my_registration"]
    assert (mine is not None) is (persona == "registered")


@pytest.mark.parametrize("persona", [*PERSONAS, "circle_member"])
def test_members_only_and_circle_events_by_persona(
    event: Event, people: People, persona: str
) -> None:
    circle = make_circle()
    members_only = make_event(title="Members evening", visibility=Event.Visibility.MEMBERS)
    circle_event = make_event(
        title="Circle day out", visibility=Event.Visibility.CIRCLE, circle=circle
    )
    if persona == "circle_member":
        insider = make_verified("in@example.com")
        join(insider, circle)
        client = api(insider)
    else:
        client = client_for(people, persona)

    listed = {row["slug"] for row in client.get(EVENTS).json()["results"]}
    members_detail = client.get(f"{EVENTS}{members_only.slug}/").status_code
    circle_detail = client.get(f"{EVENTS}{circle_event.slug}/").status_code

    sees_members = persona != "anonymous"
    # Staff in the "Organisers" group see every circle's events (not their addresses).
    sees_circle = persona in ("circle_member", "organiser")
    assert (members_only.slug in listed) is sees_members
    assert (circle_event.slug in listed) is sees_circle
    assert members_detail == (200 if sees_members else 404)
    assert circle_detail == (200 if sees_circle else 404)


def test_a_draft_is_a_404_but_to_its_organisers(event: Event, people: People) -> None:
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DRAFT)
    assert api(people.member).get(f"{EVENTS}{event.slug}/").status_code == 404
    assert api(people.organiser).get(f"{EVENTS}{event.slug}/").status_code == 200
    assert api(people.organiser).get(EVENTS).json()["results"] == []


def test_the_list_is_cursor_paged_soonest_first_without_a_count(db) -> None:
    start = timezone.now() + timedelta(days=1)
    for i in range(55):
        at = start + timedelta(hours=i // 2)  # two at each time: ties by id
        make_event(title=f"E{i:02d}", starts_at=at, ends_at=at + timedelta(hours=1))
    client = api()

    with capture_all_queries() as captured:
        first = client.get(EVENTS).json()
    assert not any(
        q["sql"].upper().startswith("SELECT COUNT(") for c in captured.values() for q in c
    )
    second = client.get(first["next"]).json()

    titles = [r["title"] for r in first["results"] + second["results"]]
    assert titles == [f"E{i:02d}" for i in range(55)]
    assert second["next"] is None and second["previous"]
    assert client.get(EVENTS, {"cursor": "bm90LWEtY3Vyc29y"}).status_code == 404


def test_the_list_searches(db) -> None:
    make_event(title="Winter retreat", public_area="Catskills")
    make_event(title="Open evening")
    assert [r["title"] for r in api().get(EVENTS, {"q": "catsk"}).json()["results"]] == [
        "Winter retreat"
    ]
    assert api().get(EVENTS, {"q": "x" * 201}).status_code == 400


# --- Registering ------------------------------------------------------------------------


def test_anonymous_clients_cannot_register(event: Event) -> None:
    assert register(None, event, {}).status_code == 401
    assert Registration.objects.count() == 0


def test_a_member_registers_with_answers(event: Event, people: People) -> None:
    diet = add_question(event, "Dietary needs", required=True)

    response = register(people.member, event, {"answers": {str(diet.pk): "Vegan"}})

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "confirmed"
    assert response.json()["message"] == services.REGISTERED
    registration = Registration.objects.get(user=people.member)
    assert registration.answers.get().value == "Vegan"
    detail = api(people.member).get(f"{EVENTS}{event.slug}/").json()
    assert detail["address"] == ADDRESS
    assert detail["questions"] == [
        {"id": diet.pk, "label": "Dietary needs", "kind": "dietary", "required": True}
    ]


def test_a_paid_event_holds_the_seat(event: Event, people: People) -> None:
    tier = add_tier(event, "Sponsor", 30000)

    response = register(people.member, event, {"tier": tier.pk})

    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["payment"], data["tier"], data["amount_cents"]) == (
        "held",
        "pending",
        tier.pk,
        30000,
    )
    assert data["hold_expires_at"].endswith("Z")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "answers.{q}"),
        ({"answers": {"{q}": ""}}, "answers.{q}"),
        ({"answers": {"{q}": "x" * 1001}}, "answers.{q}"),
        ({"answers": {"{q}": ["a", "list"]}}, "answers.{q}"),
        ({"answers": {"{q}": "ok", "999999": "?"}}, "answers.999999"),
        ({"answers": "not an object"}, "answers"),
        ({"answers": {"{q}": "ok"}, "tier": 1}, "tier"),
        ({"answers": {"{q}": "ok"}, "tier": "one"}, "tier"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    event: Event, people: People, body: dict, field: str
) -> None:
    q = add_question(event, "Emergency contact", kind="emergency_contact", required=True)
    if isinstance(body.get("answers"), dict):
        body["answers"] = {k.format(q=q.pk): v for k, v in body["answers"].items()}

    response = register(people.member, event, body)

    assert response.status_code == 400, response.content
    assert field.format(q=q.pk) in response.json()
    assert not Registration.objects.filter(user=people.member).exists()


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{not json", "1", "[" * 950 + "]" * 950])
def test_a_body_that_is_not_an_object_is_a_400(event: Event, people: People, body: str) -> None:
    response = api(people.member).post(
        f"{EVENTS}{event.slug}/register/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "Send a JSON object" in response.json()["detail"]


def test_registering_twice_or_after_the_deadline_is_a_400_saying_why(
    event: Event, people: People
) -> None:
    again = register(people.registered, event, {})
    assert again.status_code == 400
    assert again.json() == {"detail": services.ALREADY_REGISTERED}

    Event.objects.filter(pk=event.pk).update(registration_deadline=timezone.now())
    late = register(people.member, event, {})
    assert late.json() == {"detail": services.CLOSED}


def test_an_unverified_man_gets_a_403(event: Event, people: People) -> None:
    response = register(people.unverified, event, {})
    assert response.status_code == 403
    assert response.json() == {"detail": services.NOT_VERIFIED}


@pytest.mark.parametrize("persona", ["member", "other_facilitator"])
def test_an_event_he_may_not_see_is_a_404(event: Event, people: People, persona: str) -> None:
    hidden = make_event(visibility=Event.Visibility.CIRCLE, circle=make_circle())
    response = register(getattr(people, persona), hidden, {})
    assert response.status_code == 404
    assert register(getattr(people, persona), Event(slug="nope"), {}).status_code == 404


def test_a_full_event_waitlists(event: Event, people: People) -> None:
    Event.objects.filter(pk=event.pk).update(capacity=1)
    response = register(people.member, event, {})
    assert response.status_code == 201
    assert response.json()["status"] == "waitlisted"
    assert response.json()["message"] == services.WAITLISTED


def test_the_schema_names_the_event_endpoints(db) -> None:
    schema = api().get("/api/v1/schema/", {"format": "json"}).json()
    assert {"/api/v1/events/", "/api/v1/events/{slug}/", "/api/v1/events/{slug}/register/"} <= set(
        schema["paths"]
    )


def test_the_detail_takes_a_fixed_number_of_queries(event: Event, people: People) -> None:
    add_tier(event)
    add_question(event)

    def queries() -> int:
        with capture_all_queries() as captured:
            assert api(people.registered).get(f"{EVENTS}{event.slug}/").status_code == 200
        return sum(len(c) for c in captured.values())

    few = queries()
    for i in range(5):
        add_tier(event, f"T{i}")
        add_question(event, f"Q{i}")
        register_directly(event, make_verified(f"x{i}@example.com"))
    assert queries() == few
