"""The last seat under parallel requests: never sold twice (real PostgreSQL, real threads).

Men post "register" from their own signed-in clients at once. The test holds
the event's row lock while they start, waits until PostgreSQL shows every one
of them queued on that lock, then lets go: they all raced to the same point,
and the lock decides. Exactly one gets the seat; the others wait on the list.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction

from events import services
from events.models import Event, Registration
from tests.circles.conftest import make_verified
from tests.conftest import signed_in
from tests.events.conftest import add_tier, make_event, register_directly
from tests.races import Worker

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

MEN = 6


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' "
            "AND query LIKE '%%events_event%%'"
        )
        return cursor.fetchone()[0]


def race_for_the_last_seat(event: Event, data: dict[str, str]) -> list[int]:
    clients = [signed_in(make_verified(f"racer{i}@example.com")) for i in range(MEN)]
    url = f"/events/{event.slug}/register/"
    with transaction.atomic():
        Event.objects.select_for_update().get(pk=event.pk)
        workers = [Worker(lambda c=c: c.post(url, data).status_code) for c in clients]
        deadline = time.monotonic() + 20
        while waiting_on_locks() < MEN:
            assert time.monotonic() < deadline, "the requests never queued on the event's lock"
            assert all(w.running for w in workers), "a request finished without the lock"
            time.sleep(0.02)
    return [w.join() for w in workers]


def test_parallel_registrations_for_the_last_free_seat_seat_one_man() -> None:
    event = make_event(capacity=2)
    register_directly(event, make_verified("early@example.com"))

    statuses = race_for_the_last_seat(event, {})

    assert statuses == [302] * MEN
    counts = {
        status: Registration.objects.filter(event=event, status=status).count()
        for status in Registration.Status.values
    }
    assert counts["confirmed"] == 2 and counts["waitlisted"] == MEN - 1
    assert services.seats_taken(event) == event.capacity
    event.refresh_from_db()
    assert event.status == Event.Status.FULL


def test_parallel_registrations_for_the_last_paid_seat_hold_it_for_one_man() -> None:
    event = make_event(capacity=1)
    tier = add_tier(event)

    statuses = race_for_the_last_seat(event, {"tier": str(tier.pk)})

    assert statuses == [302] * MEN
    held = Registration.objects.filter(event=event, status=Registration.Status.HELD)
    assert held.count() == 1
    assert Registration.objects.filter(status=Registration.Status.WAITLISTED).count() == MEN - 1
    assert services.seats_taken(event) == 1
