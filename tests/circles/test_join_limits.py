"""Abuse limits on joining: a cool-down, a cap on open requests, and requests that expire.

- After leaving a circle or being declined, a man may ask it again after 7 days.
- One man waits on at most 3 circles at once (requests and waitlist places).
- A request no facilitator answers in 14 days stops holding its seat: the
  seat goes to the waitlist and the man is told.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_facilitator, make_verified
from tests.conftest import committed, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


def ask(user: User, circle: Circle) -> Membership:
    return services.membership_request(circle=circle, user=user, agreement_version=1)


def local(moment, zone: str) -> str:
    at = timezone.localtime(moment, ZoneInfo(zone))
    return f"{at:%A} {at.day} {at:%B} at {at:%H:%M}"


# --- Cool-down --------------------------------------------------------------------------


def test_after_leaving_he_may_ask_again_in_seven_days(circle: Circle) -> None:
    dan = make_verified("dan@example.com", time_zone="Europe/Paris")
    membership = services.membership_leave(membership=ask(dan, circle))

    with pytest.raises(services.CircleError) as refused:
        ask(dan, circle)

    until = membership.left_at + timedelta(days=7)
    assert refused.value.message == (
        f"You can ask to join this circle again from {local(until, 'Europe/Paris')}."
    )
    assert Membership.objects.get(pk=membership.pk).status == Membership.Status.LEFT
    Membership.objects.filter(pk=membership.pk).update(left_at=timezone.now() - timedelta(days=7))
    assert ask(dan, circle).status == Membership.Status.REQUESTED


def test_after_a_decline_he_may_ask_again_in_seven_days(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    declined = services.membership_decline(membership=ask(dan, circle))

    with pytest.raises(services.CircleError, match="ask to join this circle again from"):
        ask(dan, circle)

    Membership.objects.filter(pk=declined.pk).update(
        decided_at=timezone.now() - timedelta(days=7, minutes=1)
    )
    assert ask(dan, circle).status == Membership.Status.REQUESTED


def test_the_cool_down_is_per_circle(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    services.membership_leave(membership=ask(dan, circle))

    assert ask(dan, make_circle()).status == Membership.Status.REQUESTED


def test_a_join_and_leave_loop_asks_the_facilitator_once(circle: Circle, facilitator: User) -> None:
    dan = make_verified("dan@example.com")
    client = signed_in(dan)

    with committed():
        for _ in range(5):
            response = client.post(f"/circles/{circle.slug}/join/", {"version": 1, "accept": "on"})
            client.post(f"/circles/{circle.slug}/leave/")

    assert "You can ask to join this circle again from" in response.content.decode()
    asked = [m for m in mail.outbox if m.to == [facilitator.email]]
    assert len(asked) == 1


# --- Open requests across circles ------------------------------------------------------


def test_a_man_waits_on_at_most_three_circles(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    full = make_circle(capacity=2)
    join(make_verified("a@example.com"), full)
    join(make_verified("b@example.com"), full)
    first = ask(dan, circle)
    assert ask(dan, full).status == Membership.Status.WAITLISTED  # a waitlist place counts
    ask(dan, make_circle())
    fourth = make_circle()

    with pytest.raises(services.CircleError) as refused:
        ask(dan, fourth)

    assert refused.value.message == services.TOO_MANY_OPEN
    assert not Membership.objects.filter(user=dan, circle=fourth).exists()
    services.membership_approve(membership=first)  # one is settled
    assert ask(dan, fourth).status == Membership.Status.REQUESTED


def test_the_join_page_says_why_a_fourth_request_is_refused(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    for _ in range(3):
        ask(dan, make_circle())

    response = signed_in(dan).post(
        f"/circles/{circle.slug}/join/", {"version": 1, "accept": "on"}, follow=True
    )

    assert services.TOO_MANY_OPEN in response.content.decode()
    assert not Membership.objects.filter(user=dan, circle=circle).exists()


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_parallel_requests_to_many_circles_leave_at_most_three_open() -> None:
    dan = make_verified("dan@example.com")
    circles = [make_circle() for _ in range(6)]
    start = threading.Barrier(len(circles))

    def request(circle: Circle) -> str:
        try:
            start.wait(timeout=10)
            return services.membership_request(
                circle=circle, user=dan, agreement_version=None
            ).status
        except services.CircleError as error:
            return error.message
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(circles)) as pool:
        answers = list(pool.map(request, circles))

    assert sorted(map(str, answers)) == [services.TOO_MANY_OPEN] * 3 + ["requested"] * 3
    assert Membership.objects.filter(user=dan).count() == 3


# --- Unanswered requests expire ---------------------------------------------------------


def age(membership: Membership, days: float) -> None:
    Membership.objects.filter(pk=membership.pk).update(
        requested_at=timezone.now() - timedelta(days=days)
    )


def test_a_request_unanswered_for_14_days_frees_its_seat_for_the_waitlist() -> None:
    circle = make_circle(capacity=3)
    join(make_verified("a@example.com"), circle)
    join(make_verified("b@example.com"), circle)
    dan = make_verified("dan@example.com")
    stale = ask(dan, circle)  # the last seat
    waiting = ask(make_verified("eve@example.com"), circle)
    assert waiting.status == Membership.Status.WAITLISTED
    age(stale, 14.01)
    out = StringIO()

    with committed():
        call_command("expire_join_requests", stdout=out)

    assert out.getvalue().strip().splitlines()[-1] == "Expired 1 join requests."
    stale.refresh_from_db()
    assert stale.status == Membership.Status.EXPIRED
    assert Membership.objects.get(pk=waiting.pk).has_offer
    told = [m for m in mail.outbox if m.to == [dan.email]]
    assert [m.subject for m in told] == [f"Your request to join {circle.name}"]
    assert "waited 14 days without an answer" in told[0].body
    assert f"/circles/{circle.slug}/" in told[0].body
    assert Notification.objects.filter(user=dan, kind="membership_expired").count() == 1


def test_a_younger_request_or_an_answered_one_is_left_alone(circle: Circle) -> None:
    make_facilitator("fred@example.com", circle)
    young = ask(make_verified("dan@example.com"), circle)
    answered = ask(make_verified("eve@example.com"), circle)
    age(young, 13.9)
    age(answered, 20)
    services.membership_approve(membership=answered)

    assert services.requests_expire() == 0
    assert services.requests_expire() == 0  # and running again changes nothing

    assert Membership.objects.get(pk=young.pk).status == Membership.Status.REQUESTED
    assert Membership.objects.get(pk=answered.pk).status == Membership.Status.ACTIVE


def test_after_expiry_he_may_ask_again_at_once(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    stale = ask(dan, circle)
    age(stale, 15)
    services.requests_expire()

    again = ask(dan, circle)

    assert again.pk == stale.pk
    assert again.status == Membership.Status.REQUESTED


def test_an_expired_request_leaves_the_dashboard_and_frees_a_place_in_his_three(
    circle: Circle,
) -> None:
    dan = make_verified("dan@example.com")
    stale = ask(dan, circle)
    ask(dan, make_circle())
    ask(dan, make_circle())
    age(stale, 15)
    services.requests_expire()

    page = signed_in(dan).get("/dashboard/").content.decode()

    assert circle.name not in page
    assert ask(dan, make_circle()).status == Membership.Status.REQUESTED
