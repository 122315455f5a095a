from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")


def fill(circle: Circle, seats: int) -> None:
    for n in range(seats):
        join(make_verified(f"seat{n}@example.com"), circle)


def ask(user: User, circle: Circle) -> Membership:
    return services.membership_request(circle=circle, user=user, agreement_version=1)


def test_a_verified_man_with_a_free_seat_waits_for_the_facilitator(circle: Circle) -> None:
    dan = make_verified("dan@example.com")

    membership = ask(dan, circle)

    assert membership.status == Membership.Status.REQUESTED
    assert services.has_accepted_current(dan, circle)


def test_an_unverified_man_cannot_ask_to_join(circle: Circle) -> None:
    dan = make_user("dan@example.com")

    with pytest.raises(services.CircleError, match="verify your email"):
        ask(dan, circle)

    assert not Membership.objects.filter(user=dan).exists()


def test_asking_with_an_outdated_agreement_version_is_refused(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    services.agreement_publish(circle=circle, text="New text.")

    with pytest.raises(services.CircleError, match="agreements changed"):
        ask(dan, circle)

    assert not Membership.objects.filter(user=dan).exists()


def test_a_full_circle_puts_him_on_the_waitlist_in_order(circle: Circle) -> None:
    fill(circle, circle.capacity)
    first, second = make_verified("a@example.com"), make_verified("b@example.com")

    m1, m2 = ask(first, circle), ask(second, circle)

    assert m1.status == m2.status == Membership.Status.WAITLISTED
    from circles.selectors import waitlist_position

    assert (waitlist_position(m1), waitlist_position(m2)) == (1, 2)
    circle.refresh_from_db()
    assert circle.status == Circle.Status.FULL


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"is_listed": False}, "not taking"), ({"status": Circle.Status.CLOSED}, "not taking")],
)
def test_unlisted_or_closed_circles_take_no_requests(fields: dict, message: str) -> None:
    circle = make_circle(**fields)

    with pytest.raises(services.CircleError, match=message):
        services.membership_request(
            circle=circle, user=make_verified("dan@example.com"), agreement_version=None
        )


def test_asking_twice_is_refused(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    ask(dan, circle)

    with pytest.raises(services.CircleError, match="already asked"):
        ask(dan, circle)

    assert Membership.objects.filter(user=dan).count() == 1


def test_approve_makes_him_active_and_never_beyond_capacity(circle: Circle) -> None:
    fill(circle, circle.capacity - 1)
    request = ask(make_verified("dan@example.com"), circle)
    Membership.objects.create(
        circle=circle, user=make_verified("eve@example.com"), status="requested"
    )
    services.membership_approve(membership=request)
    assert Membership.objects.get(pk=request.pk).status == Membership.Status.ACTIVE

    late = Membership.objects.get(user__email="eve@example.com")
    with pytest.raises(services.CircleError, match="full"):
        services.membership_approve(membership=late)

    assert circle.memberships.active().count() == circle.capacity


def test_a_freed_seat_is_offered_to_the_first_on_the_waitlist(circle: Circle) -> None:
    fill(circle, circle.capacity)
    first = ask(make_verified("a@example.com"), circle)
    second = ask(make_verified("b@example.com"), circle)

    services.membership_leave(membership=circle.memberships.active().first())

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.has_offer
    assert first.offer_expires_at == pytest.approx(
        timezone.now() + timedelta(hours=72), abs=timedelta(minutes=1)
    )
    assert not second.has_offer
    services.offer_accept(membership=first)
    assert Membership.objects.get(pk=first.pk).status == Membership.Status.ACTIVE


def test_an_expired_offer_moves_to_the_next_man(circle: Circle) -> None:
    fill(circle, circle.capacity)
    first = ask(make_verified("a@example.com"), circle)
    second = ask(make_verified("b@example.com"), circle)
    services.membership_leave(membership=circle.memberships.active().first())
    Membership.objects.filter(pk=first.pk).update(
        offer_expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert services.offers_expire() == 1

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.has_offer
    assert not first.has_offer
    assert first.status == Membership.Status.WAITLISTED  # back of the queue
    with pytest.raises(services.CircleError, match="no seat offer"):
        services.offer_accept(membership=first)


def test_declining_an_offer_passes_it_on(circle: Circle) -> None:
    fill(circle, circle.capacity)
    first = ask(make_verified("a@example.com"), circle)
    second = ask(make_verified("b@example.com"), circle)
    services.membership_leave(membership=circle.memberships.active().first())

    services.offer_decline(membership=Membership.objects.get(pk=first.pk))

    assert Membership.objects.get(pk=second.pk).has_offer
    assert Membership.objects.get(pk=first.pk).status == Membership.Status.LEFT


def test_a_declined_request_frees_its_seat_for_the_waitlist(circle: Circle) -> None:
    fill(circle, circle.capacity - 1)
    request = ask(make_verified("a@example.com"), circle)
    waiting = ask(make_verified("b@example.com"), circle)
    assert waiting.status == Membership.Status.WAITLISTED

    services.membership_decline(membership=request)

    assert Membership.objects.get(pk=waiting.pk).has_offer


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_two_requests_for_the_last_seat_never_exceed_capacity() -> None:
    circle = make_circle(capacity=3)
    fill(circle, 2)
    men = [make_verified("x@example.com"), make_verified("y@example.com")]
    barrier = threading.Barrier(2)

    def request(user: User) -> str:
        try:
            barrier.wait(timeout=5)
            return services.membership_request(
                circle=circle, user=user, agreement_version=None
            ).status
        finally:
            for connection in connections.all():
                connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(request, men))

    assert statuses == ["requested", "waitlisted"]
    assert not circle.memberships.get(status="waitlisted").has_offer
    assert services.seats_held(circle) == circle.capacity
    pending = circle.memberships.get(status="requested")
    services.membership_approve(membership=pending)
    assert circle.memberships.active().count() == 3
    assert circle.memberships.filter(status="waitlisted").count() == 1


def test_after_new_agreements_a_member_must_accept_before_rsvp(
    circle: Circle, circle_member: User
) -> None:
    from tests.circles.conftest import make_meeting

    meeting = make_meeting(circle)
    services.agreement_publish(circle=circle, text="Version two.")

    with pytest.raises(services.CircleError, match="accept them before you RSVP"):
        services.rsvp_set(meeting=meeting, user=circle_member, response="yes", channel="web")

    services.agreement_accept(user=circle_member, circle=circle, version=2)
    rsvp = services.rsvp_set(meeting=meeting, user=circle_member, response="yes", channel="web")
    assert rsvp.response == "yes"


def test_double_rsvp_is_one_rsvp(circle: Circle, circle_member: User) -> None:
    from tests.circles.conftest import make_meeting

    meeting = make_meeting(circle)

    services.rsvp_set(meeting=meeting, user=circle_member, response="yes", channel="web")
    services.rsvp_set(meeting=meeting, user=circle_member, response="no", channel="sms")

    assert meeting.rsvps.count() == 1
    assert meeting.rsvps.get().response == "no"


def test_attendance_prefill_excuses_an_earlier_no(circle: Circle, circle_member: User) -> None:
    from tests.circles.conftest import make_meeting

    meeting = make_meeting(circle)
    services.rsvp_set(meeting=meeting, user=circle_member, response="no", channel="web")
    silent = make_verified("quiet@example.com")
    join(silent, circle)

    assert services.attendance_prefill(meeting=meeting) == 2
    assert services.attendance_prefill(meeting=meeting) == 0

    statuses = dict(meeting.attendance.values_list("user__email", "status"))
    assert statuses == {"ben@example.com": "excused", "quiet@example.com": "unexcused"}


def test_a_member_who_leaves_no_longer_leads_upcoming_meetings(
    circle: Circle, circle_member: User
) -> None:
    from tests.circles.conftest import make_meeting

    past = make_meeting(circle, in_days=-7, leader=circle_member)
    upcoming = make_meeting(circle, in_days=7, leader=circle_member)

    services.membership_leave(membership=Membership.objects.get(user=circle_member))

    upcoming.refresh_from_db()
    past.refresh_from_db()
    assert upcoming.leader is None
    assert past.leader == circle_member  # history stays


def test_only_a_scheduled_meeting_can_be_cancelled(circle: Circle) -> None:
    from tests.circles.conftest import make_meeting

    meeting = make_meeting(circle)
    services.meeting_cancel(meeting=meeting, reason="Holiday")

    with pytest.raises(services.CircleError, match="Only a scheduled meeting"):
        services.meeting_cancel(meeting=meeting)
    held = make_meeting(circle, in_days=-7, status="held")
    with pytest.raises(services.CircleError, match="Only a scheduled meeting"):
        services.meeting_cancel(meeting=held)

    meeting.refresh_from_db()
    assert (meeting.status, meeting.cancel_reason) == ("cancelled", "Holiday")
