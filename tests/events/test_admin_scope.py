"""The events admin by persona: each organiser sees and runs only the events he organises.

Olly organises Oak, Otto organises Pine, Al facilitates Alder (whose event is
"Alder day out"), Ben facilitates Birch (no event). Every page about an event
he does not run answers 404 by any URL, the same as an id that does not exist.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from events.models import Event, Registration
from tests.conftest import make_user, signed_in
from tests.events.org_world import World, event_urls, make_world, registration_urls

pytestmark = pytest.mark.django_db(databases="__all__")

LISTS = ["/admin/events/event/", "/admin/events/registration/", "/admin/events/"]
MISSING = "987654321"


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def all_urls(world: World) -> list[str]:
    return [
        *LISTS,
        *event_urls(world.oak),
        *registration_urls(world.bob_at_oak),
    ]


@pytest.mark.parametrize("who", ["anonymous", "member", "registered"])
def test_anonymous_and_members_are_sent_to_the_admin_sign_in(world: World, who: str) -> None:
    client = {
        "anonymous": Client,
        "member": lambda: signed_in(world.member),
        "registered": lambda: signed_in(world.bob),
    }[who]()

    for url in all_urls(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    # A POST to the door changes nothing either.
    client.post(f"/admin/events/event/{world.oak.pk}/door/", {"registration": world.bob_at_oak.pk})
    world.bob_at_oak.refresh_from_db()
    assert world.bob_at_oak.arrived_at is None


def test_staff_outside_the_groups_are_refused(world: World) -> None:
    client = signed_in(make_user("stan@example.com", full_name="Stan Staff", is_staff=True))

    for url in LISTS[:2]:
        assert client.get(url).status_code == 403, url
    for url in event_urls(world.oak):
        assert client.get(url).status_code in (403, 404), url


def test_the_groups_open_the_events_admin_to_organisers_and_facilitators(world: World) -> None:
    for name in ("Organisers", "Facilitators"):
        codenames = set(
            Permission.objects.filter(
                group__name=name, content_type__app_label="events"
            ).values_list("codename", flat=True)
        )
        assert {"view_event", "change_event", "view_registration", "change_registration"} <= (
            codenames
        )
        assert "delete_event" not in codenames
        assert "delete_registration" not in codenames


def listed_titles(client: Client) -> set[str]:
    response = client.get("/admin/events/event/")
    assert response.status_code == 200
    return {event.title for event in response.context["cl"].result_list}


def test_each_persona_lists_exactly_the_events_he_runs(world: World) -> None:
    assert listed_titles(signed_in(world.olly)) == {"Oak retreat"}
    assert listed_titles(signed_in(world.otto)) == {"Pine evening"}
    assert listed_titles(signed_in(world.al)) == {"Alder day out"}
    assert listed_titles(signed_in(world.ben)) == set()
    assert listed_titles(signed_in(world.superuser)) == {
        "Oak retreat",
        "Pine evening",
        "Alder day out",
    }


def test_registrations_list_only_his_events_men_with_answers_payment_and_check_in(
    world: World,
) -> None:
    response = signed_in(world.olly).get("/admin/events/registration/")

    assert response.status_code == 200
    shown = {r.user.full_name for r in response.context["cl"].result_list}
    assert shown == {"Bob Oakes", "Wes Waiting", "Carl Cancelled"}
    text = response.content.decode()
    assert "Vegetarian" in text and "Dietary needs" in text
    assert "Pat Pinewood" not in text and "Ada Alderson" not in text
    for column in ("Payment", "Arrived", "Answers"):
        assert column in text


@pytest.mark.parametrize(
    ("who", "theirs", "not_theirs"),
    [
        ("olly", "oak", ["pine", "alder_event"]),
        ("otto", "pine", ["oak", "alder_event"]),
        ("al", "alder_event", ["oak", "pine"]),
        ("ben", None, ["oak", "pine", "alder_event"]),
    ],
)
def test_another_events_pages_are_not_found_by_any_url(
    world: World, who: str, theirs: str | None, not_theirs: list[str]
) -> None:
    client = signed_in(getattr(world, who))
    registrations = {
        "oak": world.bob_at_oak,
        "pine": world.pat_at_pine,
        "alder_event": world.ada_at_alder,
    }

    if theirs is not None:
        for url in event_urls(getattr(world, theirs)):
            assert client.get(url).status_code == 200, url
        for url in registration_urls(registrations[theirs]):
            assert client.get(url).status_code == 200, url
    for name in not_theirs:
        event = getattr(world, name)
        for url in [*event_urls(event), *registration_urls(registrations[name])]:
            response = client.get(url, follow=True)
            missing = client.get(url.replace(f"/{event.pk}/", f"/{MISSING}/"), follow=True)
            assert response.status_code == 404, url
            assert missing.status_code == 404
            assert event.title not in response.content.decode(), url


def test_the_superuser_opens_every_events_pages(world: World) -> None:
    client = signed_in(world.superuser)

    for event in (world.oak, world.pine, world.alder_event):
        for url in event_urls(event):
            assert client.get(url).status_code == 200, url


def test_posting_to_another_events_pages_changes_nothing(world: World) -> None:
    client = signed_in(world.olly)
    pine = world.pine
    before = list(Event.objects.filter(pk=pine.pk).values())

    assert (
        client.post(
            f"/admin/events/event/{pine.pk}/door/", {"registration": world.pat_at_pine.pk}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/admin/events/event/{pine.pk}/message/",
            {"channels": ["email"], "title": "Hi", "text": "Hello", "key": "a" * 32},
        ).status_code
        == 404
    )
    assert (
        client.post(f"/admin/events/event/{pine.pk}/change/", {"title": "Taken"}).status_code == 404
    )
    assert client.post(f"/admin/events/event/{pine.pk}/delete/", {"post": "yes"}).status_code in (
        403,
        404,
    )

    assert list(Event.objects.filter(pk=pine.pk).values()) == before
    world.pat_at_pine.refresh_from_db()
    assert world.pat_at_pine.arrived_at is None


def test_a_forged_action_on_another_events_registrations_changes_nothing(world: World) -> None:
    client = signed_in(world.olly)

    response = client.post(
        "/admin/events/registration/",
        {
            "action": "mark_arrived",
            "_selected_action": [world.pat_at_pine.pk, world.ada_at_alder.pk],
        },
    )

    assert response.status_code in (200, 302)
    assert not Registration.objects.filter(arrived_at__isnull=False).exists()


def test_a_forged_message_action_for_another_event_is_refused(world: World) -> None:
    client = signed_in(world.olly)

    response = client.post(
        "/admin/events/event/",
        {"action": "message_registrants", "_selected_action": [world.pine.pk]},
        follow=True,
    )

    # No message page: the list again, saying why.
    assert [url for url, _ in response.redirect_chain] == ["/admin/events/event/"]
    assert "Choose one of your events" in response.content.decode()


def test_the_message_action_takes_him_to_his_events_message_page(world: World) -> None:
    response = signed_in(world.olly).post(
        "/admin/events/event/",
        {"action": "message_registrants", "_selected_action": [world.oak.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/events/event/{world.oak.pk}/message/"


def test_nobody_but_a_superuser_deletes_an_event_or_a_registration(world: World) -> None:
    olly = signed_in(world.olly)

    assert olly.get(f"/admin/events/event/{world.oak.pk}/delete/").status_code == 403
    assert olly.get(f"/admin/events/registration/{world.bob_at_oak.pk}/delete/").status_code == 403
    assert olly.get("/admin/events/registration/add/").status_code == 403
    assert Event.objects.filter(pk=world.oak.pk).exists()


def test_a_circle_choice_is_only_one_of_his_circles(world: World) -> None:
    al = signed_in(world.al)
    olly = signed_in(world.olly)

    al_choices = al.get("/admin/events/event/add/").context["adminform"].form.fields["circle"]
    olly_choices = olly.get("/admin/events/event/add/").context["adminform"].form.fields["circle"]

    assert [c.name for c in al_choices.queryset] == ["Alder Circle"]
    assert list(olly_choices.queryset) == []


def test_organiser_choices_are_his_colleagues_never_another_circles_facilitators(
    world: World,
) -> None:
    def choices(user) -> set[str]:
        client = signed_in(user)
        form = client.get(f"/admin/events/event/{world.oak.pk}/change/").context["adminform"].form
        return {u.full_name for u in form.fields["organisers"].queryset}

    olly = choices(world.olly)
    assert {"Olly Organiser"} <= olly  # himself and the Organisers group
    assert "Ben Birch" not in olly and "Al Alder" not in olly
    assert "Bob Oakes" not in olly  # not staff
    # Whoever already organises the event stays a choice (else saving would drop him).
    world.oak.organisers.add(world.ben)
    assert "Ben Birch" in choices(world.olly)
    add_page = signed_in(world.al).get("/admin/events/event/add/").content.decode()
    assert "Al Alder" in add_page and "Ben Birch" not in add_page
    assert "Ben Birch" in choices(world.superuser)
