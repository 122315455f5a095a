"""Generations: a write forgets every value cached on what it changed, and nothing else."""

from __future__ import annotations

from datetime import time as clock
from datetime import timedelta

import pytest
from django.utils import timezone

from circles import caching
from circles.models import Circle, Meeting, Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")


def make_circle(slug: str) -> Circle:
    return Circle.objects.create(
        name=slug.title(), slug=slug, status="open", weekday=1, start_time=clock(19)
    )


def test_a_value_is_made_once_until_its_scope_changes() -> None:
    circle = make_circle("oak")
    made = []
    scopes = [caching.circle_scope(circle.pk)]
    for _ in range(3):
        caching.cached("page", lambda: made.append(1) or len(made), scopes=scopes)
    assert made == [1]
    Membership.objects.create(circle=circle, user=make_user("a@example.com"), status="active")
    assert caching.cached("page", lambda: "fresh", scopes=scopes) == "fresh"


def test_a_write_to_one_circle_leaves_another_circles_values_cached() -> None:
    oak, elm = make_circle("oak"), make_circle("elm")
    caching.cached("page", lambda: "elm then", scopes=[caching.circle_scope(elm.pk)])
    Membership.objects.create(circle=oak, user=make_user("a@example.com"), status="active")
    assert caching.cached("page", lambda: "elm now", scopes=[caching.circle_scope(elm.pk)]) == (
        "elm then"
    )


def test_one_mans_value_is_never_another_mans() -> None:
    circle = make_circle("oak")
    scopes = [caching.circle_scope(circle.pk)]
    assert caching.cached("dash", lambda: "his", scopes=scopes, user=1) == "his"
    assert caching.cached("dash", lambda: "mine", scopes=scopes, user=2) == "mine"


def test_a_sign_in_changes_nothing_shown_so_forgets_nothing() -> None:
    circle = make_circle("oak")
    user = make_user("a@example.com")
    Membership.objects.create(circle=circle, user=user, status="active")
    scopes = [caching.circle_scope(circle.pk)]
    caching.cached("page", lambda: "then", scopes=scopes)
    user.save(update_fields=["last_login"])
    assert caching.cached("page", lambda: "now", scopes=scopes) == "then"
    user.full_name = "Renamed Man"
    user.save(update_fields=["full_name"])
    assert caching.cached("page", lambda: "now", scopes=scopes) == "now"


def test_an_unreadable_cache_computes_fresh_every_time(settings: object) -> None:
    # A Redis that is not there: nothing answers on port 1.
    unreachable = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {"default": unreachable}
    made = []
    for _ in range(2):
        caching.cached("page", lambda: made.append(1), scopes=[caching.DIRECTORY])
    assert made == [1, 1]


def test_a_mans_membership_changes_forget_his_own_scope_and_no_one_elses() -> None:
    circle = make_circle("oak")
    him, other = make_user("a@example.com"), make_user("b@example.com")
    for man in (him, other):
        caching.cached("circles", lambda: "before", scopes=[caching.user_scope(man.pk)])
    Membership.objects.create(circle=circle, user=him, status="requested")

    assert caching.cached("circles", lambda: "now", scopes=[caching.user_scope(him.pk)]) == "now"
    assert (
        caching.cached("circles", lambda: "now", scopes=[caching.user_scope(other.pk)]) == "before"
    )


def test_a_meeting_changes_its_circles_pages_but_not_the_directory() -> None:
    circle = make_circle("oak")
    listing = caching.cached("directory", lambda: "then", scopes=[caching.DIRECTORY])
    page = caching.cached("page", lambda: "then", scopes=[caching.circle_scope(circle.pk)])
    assert listing == page == "then"
    start = timezone.now() + timedelta(days=1)
    Meeting.objects.create(circle=circle, starts_at=start, ends_at=start + timedelta(hours=1))
    assert caching.cached("directory", lambda: "now", scopes=[caching.DIRECTORY]) == "then"
    assert caching.cached("page", lambda: "now", scopes=[caching.circle_scope(circle.pk)]) == "now"
