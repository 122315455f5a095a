"""Every admin URL, walked for a facilitator of circle A against circle B's objects.

The URL patterns come from the admin site itself, so a model or a custom view
added later is walked too (an unknown URL parameter fails the walk until the
test learns how to fill it). For each URL that names one of B's objects, Al (who
runs Alder) gets the same answer as for an id that does not exist: 404 for
the circles models he works with, 403 for whole sections he cannot use
(users, groups, billing, dj-stripe, tasks), never a page, a redirect to
the object's public page, or a word of Birch's. POSTs change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver
from django.utils import timezone

from billing.models import DuesTier, OfflinePayment, Scholarship
from circles.models import Agreement, Circle, FacilitatorNote, Meeting, Membership
from events.models import Event, Registration
from tests.circles.test_admin_access import World, make_world
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

MISSING = "987654321"
# Everything of circle B's that Al must never read (each B name contains "Birch").
SECRETS = ("Birch", "birch-circle", "member-b@", "asker-b@", "fac-b@")
# Models Al works with: an object outside his circles is simply not found.
SCOPED = {Circle, Membership, Meeting, Agreement, FacilitatorNote, Event, Registration}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def b_objects(world: World) -> dict[type[models.Model], models.Model]:
    """One object of circle B's (or of its people) for each model that has one."""
    b = world.b
    today = timezone.localdate()
    # Birch's own event (its facilitator Ben organises it), and its member registered.
    starts = timezone.now() + timedelta(days=10)
    event = Event.objects.create(
        title="Birch day out",
        starts_at=starts,
        ends_at=starts + timedelta(hours=5),
        capacity=10,
        visibility=Event.Visibility.CIRCLE,
        circle=b.circle,
        status=Event.Status.OPEN,
    )
    return {
        Event: event,
        Registration: Registration.objects.create(event=event, user=b.member),
        Circle: b.circle,
        Membership: b.request,
        Meeting: b.meeting,
        Agreement: b.agreement,
        FacilitatorNote: b.note,
        b.member.__class__: b.member,
        Group: Group.objects.get(name="Facilitators"),
        Scholarship: Scholarship.objects.create(user=b.member, kind="waived", reason="Birch"),
        OfflinePayment: OfflinePayment.objects.create(
            user=b.member,
            amount_cents=4500,
            method="cash",
            covers_from=today,
            covers_until=today + timedelta(days=30),
            note="Birch",
        ),
        DuesTier: DuesTier.objects.create(name="Birch tier", amount_cents=1, stripe_price_id="p"),
    }


def admin_routes() -> Iterator[tuple[str, URLPattern, type[models.Model] | None]]:
    """(route, pattern, model) for every admin URL, the model from its ModelAdmin prefix."""

    def walk(urls: list, prefix: str, model: type[models.Model] | None):
        for entry in urls:
            if isinstance(entry, URLResolver):
                route = str(entry.pattern)
                app_label, _, model_name = route.strip("/").partition("/")
                yield from walk(
                    entry.url_patterns, prefix + route, apps.get_model(app_label, model_name)
                )
            else:
                yield prefix + str(entry.pattern), entry, model

    yield from walk(admin.site.get_urls(), "/admin/", None)


def urls_for(
    route: str, pattern: URLPattern, model: type[models.Model] | None, objects: dict
) -> list[tuple[str, str]]:
    """(URL with B's object, the same URL with an id that does not exist) for one route."""
    names = PARAMETER.findall(route)
    if not names or "(?P<" in route:  # lists, forms, the app index, the catch-all
        return []
    if names == ["content_type_id", "object_id"]:  # view on site
        return [
            (
                route.replace(
                    "<path:content_type_id>", str(ContentType.objects.get_for_model(m).pk)
                ).replace("<path:object_id>", str(obj.pk)),
                route.replace(
                    "<path:content_type_id>", str(ContentType.objects.get_for_model(m).pk)
                ).replace("<path:object_id>", MISSING),
            )
            for m, obj in objects.items()
        ]
    if names == ["action_name", "model_name"]:  # dj-stripe's custom actions
        return [
            (
                route.replace("<str:action_name>", action).replace(
                    "<str:model_name>", model._meta.model_name
                ),
                route.replace("<str:action_name>", action).replace("<str:model_name>", "nosuch"),
            )
            for action in ("_resync_instances", "_sync_all_instances", "_cancel")
        ]
    if names in (["object_id"], ["id"]):
        obj = objects.get(model)
        # A model with no object of B's (dj-stripe, tasks): any id.
        obj_id = "1" if obj is None else str(obj.pk)
        placeholder = f"<{'path:object_id' if names == ['object_id'] else 'id'}>"
        return [(route.replace(placeholder, obj_id), route.replace(placeholder, MISSING))]
    raise AssertionError(f"the walk does not know how to fill {route} ({pattern.name})")


def leaks(response) -> list[str]:
    text = response.content.decode(errors="replace") + response.get("Location", "")
    return [secret for secret in SECRETS if secret in text]


def test_every_admin_url_of_another_circles_objects_is_not_found_for_a_facilitator(
    world: World,
) -> None:
    objects = b_objects(world)
    client = signed_in(world.a.facilitator)
    walked = 0

    for route, pattern, model in admin_routes():
        for url, missing_url in urls_for(route, pattern, model, objects):
            response = client.get(url, follow=True)
            missing = client.get(missing_url, follow=True)
            walked += 1
            expected = 404 if model in SCOPED or "/r/" in route else {403, 404}
            assert response.status_code in (
                expected if isinstance(expected, set) else {expected}
            ), (url, response.status_code)
            # Found or not: the same answer, so it tells nothing.
            assert response.status_code == missing.status_code, (url, missing_url)
            assert not leaks(response), (url, leaks(response))

    # Change, delete, history and the bare id of ~55 models, plus the custom views.
    assert walked > 200


def test_no_admin_page_without_an_object_shows_another_circle(world: World) -> None:
    b_objects(world)
    client = signed_in(world.a.facilitator)
    pages = [
        "/admin/",
        *(f"/admin/{app}/" for app in ("auth", "accounts", "circles", "billing", "events")),
    ]
    for route, _pattern, _model in admin_routes():
        if not PARAMETER.findall(route) and "(?P<" not in route and "logout" not in route:
            pages.append(route)

    for url in pages:
        for query in ("", "?q=Circle", "?q=member", "?q=b"):
            response = client.get(url + query, follow=True)
            assert response.status_code in (200, 403, 404), (url, response.status_code)
            assert not leaks(response), (url + query, leaks(response))


def test_posting_to_every_admin_url_of_another_circle_changes_nothing(world: World) -> None:
    objects = b_objects(world)
    before = {m: list(m.objects.filter(pk=o.pk).values()) for m, o in objects.items()}
    client = signed_in(world.a.facilitator)

    for route, pattern, model in admin_routes():
        for url, _missing in urls_for(route, pattern, model, objects):
            data = {"post": "yes", "name": "Taken", "role": "facilitator", "text": "Taken"}
            response = client.post(url, data)
            assert response.status_code in (403, 404), (url, response.status_code)

    after = {m: list(m.objects.filter(pk=o.pk).values()) for m, o in objects.items()}
    assert after == before


def test_view_on_site_redirects_only_for_objects_he_may_open(world: World) -> None:
    circle_type = ContentType.objects.get_for_model(Circle).pk
    al = signed_in(world.a.facilitator)
    root = signed_in(world.superuser)

    own = al.get(f"/admin/r/{circle_type}/{world.a.circle.pk}/")
    other = al.get(f"/admin/r/{circle_type}/{world.b.circle.pk}/")
    by_root = root.get(f"/admin/r/{circle_type}/{world.b.circle.pk}/")
    anonymous = Client().get(f"/admin/r/{circle_type}/{world.b.circle.pk}/")

    assert own.status_code == 302 and own["Location"].endswith("/circles/alder-circle/")
    assert other.status_code == 404 and "birch" not in other.get("Location", "")
    assert by_root.status_code == 302 and by_root["Location"].endswith("/circles/birch-circle/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    for bad in ("x", "0", "99999"):
        assert al.get(f"/admin/r/{bad}/{world.a.circle.pk}/").status_code == 404
        assert al.get(f"/admin/r/{circle_type}/{bad}/").status_code == 404
    # A NUL anywhere in an address is refused before any view (a 400).
    assert al.get(f"/admin/r/{circle_type}/1\x00/").status_code == 400


def test_view_on_site_of_a_meeting_follows_the_meeting_admins_scope(world: World) -> None:
    meeting_type = ContentType.objects.get_for_model(Meeting).pk
    al = signed_in(world.a.facilitator)

    assert al.get(f"/admin/r/{meeting_type}/{world.a.meeting.pk}/").status_code == 302
    assert al.get(f"/admin/r/{meeting_type}/{world.b.meeting.pk}/").status_code == 404


def test_djstripe_custom_actions_are_for_superusers_only(world: World, rf) -> None:
    url = "/admin/djstripe/subscription/action/_cancel/subscription/"
    al = signed_in(world.a.facilitator)
    root = signed_in(world.superuser)

    assert al.get(url).status_code == 404
    assert al.post(url, {"_selected_action": ["1"]}).status_code == 404
    # Not an action of that admin, or not a model at all: nothing to run.
    assert root.get("/admin/djstripe/subscription/action/dispatch/subscription/").status_code == 404
    assert root.get("/admin/djstripe/subscription/action/_cancel/nosuch/").status_code == 404
    # A superuser passes the guard (dj-stripe's own page then needs Stripe).
    request = rf.post(url)
    request.user = world.superuser
    admin.site._check_custom_action(request, "_cancel", "subscription")


def autocomplete_queries() -> Iterator[dict[str, str]]:
    """Every foreign key of a registered model pointing at a registered model."""
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if (
                field.is_relation
                and field.many_to_one
                and field.concrete
                and field.related_model in admin.site._registry
            ):
                yield {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                }


def test_autocomplete_never_offers_another_circles_objects(world: World) -> None:
    al = signed_in(world.a.facilitator)
    asked = 0

    for query in autocomplete_queries():
        for term in ("", "Birch", "b"):
            response = al.get("/admin/autocomplete/", {**query, "term": term})
            asked += 1
            assert response.status_code in (200, 403, 404), (query, response.status_code)
            assert not leaks(response), (query, term)

    circles = al.get(
        "/admin/autocomplete/",
        {"app_label": "circles", "model_name": "membership", "field_name": "circle", "term": ""},
    ).json()
    assert [r["text"] for r in circles["results"]] == ["Alder Circle"]
    assert asked > 20
