"""Who holds a seat, said once (`MembershipQuerySet.holding_seats`), and the waitlist first.

Services, the directory, the circle page, the API and the admin must give one
answer for a circle with every kind of membership; a newcomer never takes a
free seat while anyone waits; the seat-offer service locks the circle itself.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import selectors, services
from circles.models import Circle, Membership
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import committed, force_signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

S = Membership.Status
R = Membership.Role

# Every kind of membership a circle can have, and whether it holds a seat.
KINDS: list[tuple[str, dict[str, object], bool]] = [
    ("active member", {"status": S.ACTIVE}, True),
    ("facilitator", {"status": S.ACTIVE, "role": R.FACILITATOR}, True),
    ("co-facilitator", {"status": S.ACTIVE, "role": R.CO_FACILITATOR}, True),
    ("paused member", {"status": S.PAUSED}, True),
    ("request", {"status": S.REQUESTED}, True),
    # Older than the 14 days, but the cron has not expired it: still approvable.
    ("request not yet expired by the cron", {"status": S.REQUESTED, "age_days": 20}, True),
    ("live seat offer", {"status": S.WAITLISTED, "offer_hours": 48}, True),
    ("seat offer run out", {"status": S.WAITLISTED, "offer_hours": -1}, False),
    ("waitlisted", {"status": S.WAITLISTED}, False),
    ("left", {"status": S.LEFT}, False),
    ("declined", {"status": S.DECLINED}, False),
    ("expired request", {"status": S.EXPIRED}, False),
]

_men = iter(range(1, 100_000))


def add(circle: Circle, spec: dict[str, object], **extra: object) -> Membership:
    """One membership of the given kind, as the services would have left it."""
    spec = {**spec, **extra}
    now = timezone.now()
    offer_hours = spec.pop("offer_hours", None)
    age_days = spec.pop("age_days", 3)
    return Membership.objects.create(
        circle=circle,
        user=make_verified(f"man{next(_men)}@example.com"),
        requested_at=now - timedelta(days=age_days),
        offer_expires_at=now + timedelta(hours=offer_hours) if offer_hours else None,
        **spec,
    )


def spec_of(kind: str) -> dict[str, object]:
    return next(spec for name, spec, _holds in KINDS if name == kind)


def every_count(circle: Circle, admin: Client) -> dict[str, int]:
    """The seats held in `circle`, as each place that shows or uses the number says it."""
    page = Client().get(f"/circles/{circle.slug}/").content.decode()
    free = re.search(r"(\d+) of (\d+) seats free", page)
    card = Client().get("/circles/").content.decode()
    taken = re.search(rf"{circle.capacity} seats, (\d+) taken", card)
    listing = admin.get("/admin/circles/circle/", {"q": circle.slug}).content.decode()
    cell = re.search(r'class="field-seats">(\d+)/\d+<', listing)
    return {
        "services.seats_held": services.seats_held(circle),
        "selectors.directory": next(
            c.seats_held for c in selectors.directory() if c.pk == circle.pk
        ),
        "selectors.circle_detail": selectors.circle_detail(circle.slug).seats_held,
        "circle page": circle.capacity - int(free[1]) if free else -1,
        "directory page": int(taken[1]) if taken else -1,
        "API": Client().get(f"/api/v1/circles/{circle.slug}/").json()["seats_taken"],
        "admin list": int(cell[1]) if cell else -1,
    }


@pytest.fixture
def admin(db: None) -> Client:
    root = User.objects.create_superuser("root@example.com", "x", full_name="Root")
    return force_signed_in(root)


def test_services_pages_api_and_admin_count_the_same_seats(admin: Client) -> None:
    circle = make_circle(capacity=12)
    for _name, spec, _holds in KINDS:
        add(circle, spec)
    holding = sum(holds for _name, _spec, holds in KINDS)
    assert holding == 7

    counts = every_count(circle, admin)

    assert counts == dict.fromkeys(counts, holding)


def test_every_place_sees_a_circle_filled_by_held_seats_as_full(admin: Client) -> None:
    circle = make_circle(capacity=7)
    for _name, spec, _holds in KINDS:
        add(circle, spec)

    services.seat_offer_next(circle=circle)  # nothing to offer; open/full follows the seats

    circle.refresh_from_db()
    assert circle.status == Circle.Status.FULL
    assert services.seats_held(circle) == circle.capacity
    assert "The circle is full" in Client().get(f"/circles/{circle.slug}/").content.decode()
    assert circle not in selectors.directory(open_seats=True)
    assert 'class="field-seats">7/7<' in admin.get("/admin/circles/circle/").content.decode()
    assert Client().get(f"/api/v1/circles/{circle.slug}/").json()["seats_taken"] == 7


@pytest.mark.parametrize(("kind", "spec", "holds"), KINDS, ids=[k[0] for k in KINDS])
def test_what_holds_a_seat(admin: Client, kind: str, spec: dict[str, object], holds: bool) -> None:
    circle = make_circle(capacity=5)
    add(circle, spec)

    counts = every_count(circle, admin)

    assert counts == dict.fromkeys(counts, int(holds)), kind


# --- The waitlist comes first ----------------------------------------------------------


def test_a_newcomer_waits_behind_a_man_whose_offer_ran_out(admin: Client) -> None:
    """A free seat (his offer ran out, the cron has not run yet) is still his turn first."""
    circle = make_circle(capacity=3)
    join(make_verified("a@example.com"), circle)
    join(make_verified("b@example.com"), circle)
    wes = add(circle, {"status": S.WAITLISTED, "offer_hours": -1})
    assert every_count(circle, admin)["circle page"] == 2  # a seat shows free
    ned = make_verified("ned@example.com")

    with committed():
        response = force_signed_in(ned).post(
            f"/circles/{circle.slug}/join/", {"version": "", "accept": "on"}, follow=True
        )

    ned_in = Membership.objects.get(user=ned)
    wes.refresh_from_db()
    assert ned_in.status == S.WAITLISTED
    assert not ned_in.has_offer
    assert wes.has_offer
    assert selectors.waitlist_position(ned_in) == 2
    assert services.ON_THE_WAITLIST in [str(m) for m in response.context["messages"]]
    assert Notification.objects.filter(user=wes.user, kind="seat_offered").count() == 1
    told = [m for m in mail.outbox if m.to == [ned.email]]
    assert [m.subject for m in told] == [f"You are on the waitlist of {circle.name}"]
    assert "(number 2)" in told[0].body
    circle.refresh_from_db()
    assert circle.status == Circle.Status.FULL
    assert every_count(circle, admin)["services.seats_held"] == 3


def test_a_newcomer_joins_the_back_even_when_everyone_waiting_has_an_offer() -> None:
    circle = make_circle(capacity=4)  # made bigger since the offer: two seats free
    join(make_verified("a@example.com"), circle)
    offered = add(circle, {"status": S.WAITLISTED, "offer_hours": 48})
    ned = make_verified("ned@example.com")

    mine = services.membership_request(circle=circle, user=ned, agreement_version=None)

    mine.refresh_from_db()
    assert mine.status == S.WAITLISTED  # no request past the man waiting
    assert mine.has_offer  # and the free seat goes to the first man with none: him
    assert Membership.objects.get(pk=offered.pk).has_offer
    assert services.seats_held(circle) == 3


def test_with_nobody_waiting_a_free_seat_is_a_request_for_the_facilitator() -> None:
    circle = make_circle(capacity=3)
    join(make_verified("a@example.com"), circle)
    for kind in ("left", "declined", "expired request"):
        add(circle, spec_of(kind))

    mine = services.membership_request(
        circle=circle, user=make_verified("ned@example.com"), agreement_version=None
    )

    assert mine.status == S.REQUESTED


def test_an_offer_run_out_passes_on_at_the_next_change_before_the_cron(admin: Client) -> None:
    circle = make_circle(capacity=2)
    leaver = make_verified("leaver@example.com")
    join(leaver, circle)
    join(make_verified("stays@example.com"), circle)
    first = add(circle, {"status": S.WAITLISTED, "age_days": 2})
    second = add(circle, {"status": S.WAITLISTED, "age_days": 1})
    services.membership_leave(membership=Membership.objects.get(user=leaver))
    assert Membership.objects.get(pk=first.pk).has_offer
    Membership.objects.filter(pk=first.pk).update(
        offer_expires_at=timezone.now() - timedelta(minutes=5)
    )
    assert every_count(circle, admin)["services.seats_held"] == 1  # it holds nothing now

    # Not the cron: the admin's "Offer a seat" action.
    admin.post(
        "/admin/circles/membership/",
        {"action": "offer_seats", "_selected_action": [first.pk]},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.has_offer
    assert not first.has_offer
    assert first.status == S.WAITLISTED
    assert selectors.waitlist_position(first) == 2  # back of the queue
    with pytest.raises(services.CircleError, match="no seat offer"):
        services.offer_accept(membership=first)
    assert services.offers_expire() == 0  # nothing left for the cron


def test_a_paused_member_keeps_his_seat() -> None:
    circle = make_circle(capacity=2)
    join(make_verified("a@example.com"), circle)
    add(circle, {"status": S.PAUSED})

    mine = services.membership_request(
        circle=circle, user=make_verified("ned@example.com"), agreement_version=None
    )

    assert mine.status == S.WAITLISTED
    assert not Membership.objects.get(pk=mine.pk).has_offer


def test_no_one_gets_in_past_the_capacity_once_the_circle_shrinks() -> None:
    """A facilitator lowered the capacity after a request and an offer were made."""
    circle = make_circle(capacity=4)
    join(make_verified("a@example.com"), circle)
    add(circle, {"status": S.PAUSED})
    request = add(circle, {"status": S.REQUESTED})
    offer = add(circle, {"status": S.WAITLISTED, "offer_hours": 48})
    Circle.objects.filter(pk=circle.pk).update(capacity=2)

    with pytest.raises(services.CircleError, match="full"):
        services.membership_approve(membership=request)
    with pytest.raises(services.CircleError, match="full"):
        services.offer_accept(membership=offer)

    assert circle.memberships.members().count() == 2


# --- The admin ---------------------------------------------------------------------------


def circle_form(circle: Circle, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": circle.name,
        "slug": circle.slug,
        "description": circle.description,
        "capacity": circle.capacity,
        "status": circle.status,
        "is_listed": "on",
        "time_zone": circle.time_zone,
        "weekday": circle.weekday,
        "start_time": f"{circle.start_time:%H:%M}",
        "duration_minutes": circle.duration_minutes,
        "frequency": circle.frequency,
        "starts_on": f"{circle.starts_on:%Y-%m-%d}",
        "location_kind": circle.location_kind,
        "agreements-TOTAL_FORMS": "0",
        "agreements-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_seats_added_in_the_admin_go_to_the_waitlist(admin: Client) -> None:
    circle = make_circle(capacity=2, status=Circle.Status.FULL)
    join(make_verified("a@example.com"), circle)
    join(make_verified("b@example.com"), circle)
    first = add(circle, {"status": S.WAITLISTED, "age_days": 2})
    second = add(circle, {"status": S.WAITLISTED, "age_days": 1})

    response = admin.post(
        f"/admin/circles/circle/{circle.pk}/change/", circle_form(circle, capacity=3)
    )

    assert response.status_code == 302
    assert Membership.objects.get(pk=first.pk).has_offer
    assert not Membership.objects.get(pk=second.pk).has_offer
    circle.refresh_from_db()
    assert (circle.capacity, circle.status) == (3, Circle.Status.FULL)


def test_closing_a_circle_in_the_admin_offers_no_seat(admin: Client) -> None:
    circle = make_circle(capacity=3)
    join(make_verified("a@example.com"), circle)
    waiting = add(circle, {"status": S.WAITLISTED})

    admin.post(f"/admin/circles/circle/{circle.pk}/change/", circle_form(circle, status="closed"))

    assert Circle.objects.get(pk=circle.pk).status == Circle.Status.CLOSED
    assert not Membership.objects.get(pk=waiting.pk).has_offer


def test_a_circle_shrunk_in_the_admin_shows_full(admin: Client) -> None:
    circle = make_circle(capacity=4)
    join(make_verified("a@example.com"), circle)
    join(make_verified("b@example.com"), circle)

    admin.post(f"/admin/circles/circle/{circle.pk}/change/", circle_form(circle, capacity=2))

    circle.refresh_from_db()
    assert (circle.capacity, circle.status) == (2, Circle.Status.FULL)


# --- Locks -------------------------------------------------------------------------------


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views are a snapshot: take a new one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_seat_offer_service_takes_the_circle_lock_itself() -> None:
    """A caller that forgot the lock cannot offer a seat someone else is offering."""
    circle = make_circle(capacity=2)
    join(make_verified("a@example.com"), circle)
    wes = add(circle, {"status": S.WAITLISTED, "age_days": 2})
    add(circle, {"status": S.WAITLISTED, "age_days": 1})
    started, done = threading.Barrier(2), threading.Event()

    def holder() -> list[Membership]:
        """Changes seats under the lock, and keeps it until the other call waits for it."""
        try:
            with transaction.atomic():
                Circle.objects.select_for_update().get(pk=circle.pk)
                offered = services.seat_offer_next(circle=circle)
                started.wait(timeout=5)
                deadline = time.monotonic() + 10
                while not (done.is_set() or _someone_waits_on_a_lock()):
                    assert time.monotonic() < deadline, "the other call neither waited nor ended"
                    time.sleep(0.02)
            return offered
        finally:
            connections.close_all()

    def forgetful() -> list[Membership]:
        """No transaction, no lock: what a caller that forgot them would do."""
        try:
            started.wait(timeout=5)
            return services.seat_offer_next(circle=circle)
        finally:
            done.set()
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(holder), pool.submit(forgetful)
        offered = [m.pk for m in first.result() + second.result()]

    assert offered == [wes.pk]  # one seat, one offer, to the first man waiting
    assert Notification.objects.filter(kind="seat_offered").count() == 1
    assert services.seats_held(circle) == circle.capacity


# --- Pages stay a fixed number of queries ----------------------------------------------


def _queries(client: Client, url: str) -> int:
    """Queries of one request made from nothing cached (the cache is tested elsewhere)."""
    from tests.conftest import capture_all_queries

    cache.delete_pattern("*")
    with capture_all_queries() as captured:
        assert client.get(url).status_code == 200
    return sum(1 for c in captured.values() for q in c if "accounts_session" not in q["sql"])


@pytest.mark.parametrize(
    "url", ["/circles/", "/circles/?open_seats=on", "/circles/c/", "/api/v1/circles/", "admin"]
)
def test_seat_counts_cost_the_same_queries_whatever_the_circles_and_memberships(
    admin: Client, url: str
) -> None:
    circle = make_circle(slug="c", capacity=30)
    add(circle, spec_of("active member"))
    client = admin if url == "admin" else Client()
    target = "/admin/circles/circle/" if url == "admin" else url

    small = _queries(client, target)
    for place in (circle, make_circle(capacity=30), make_circle(capacity=30)):
        for _name, spec, _holds in KINDS:
            add(place, spec)
            add(place, spec)
    large = _queries(client, target)

    assert small == large
