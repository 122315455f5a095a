from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from events.groups import GROUP, PERMISSIONS
from events.models import Event, Registration
from tests.circles.conftest import make_circle, make_verified
from tests.events.conftest import make_event, register_directly

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_slug_comes_from_the_title_and_stays_unique() -> None:
    first = make_event(title="Spring Retreat")
    second = make_event(title="Spring retreat")

    assert first.slug == "spring-retreat"
    assert second.slug == "spring-retreat-2"
    assert first.get_absolute_url() == "/events/spring-retreat/"


def test_a_circle_event_must_name_its_circle() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make_event(visibility=Event.Visibility.CIRCLE)
    assert make_event(visibility=Event.Visibility.CIRCLE, circle=make_circle()).circle_id


def test_an_event_ends_after_it_starts() -> None:
    event = make_event()
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(ends_at=event.starts_at - timedelta(hours=1))


def test_one_live_registration_per_man_and_a_cancelled_one_does_not_count() -> None:
    event = make_event()
    man = make_verified("dan@example.com")
    first = register_directly(event, man)
    with pytest.raises(IntegrityError), transaction.atomic():
        register_directly(event, man)
    first.status = Registration.Status.CANCELLED
    first.save(update_fields=["status"])

    again = register_directly(event, man)

    assert again.pk != first.pk


def test_seats_taken_counts_held_offered_and_confirmed() -> None:
    event = make_event()
    for n, status in enumerate(Registration.Status.values):
        register_directly(event, make_verified(f"m{n}@example.com"), status=status)

    assert Event.objects.with_seats_taken().get(pk=event.pk).seats_taken == 3


def test_the_organisers_group_exists_with_its_permissions() -> None:
    group = Group.objects.get(name=GROUP)

    assert set(group.permissions.values_list("codename", flat=True)) == set(PERMISSIONS)
