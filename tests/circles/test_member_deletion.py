from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpResponse
from djstripe.models import Customer

from accounts import services as account_services
from accounts.models import User
from billing.erasure import STRIPE_UNREACHABLE
from circles import broadcasts, erasure, services
from circles.models import Attendance, CalendarFeed, Circle, FacilitatorNote, Membership
from notifications import delivery
from notifications.models import Notification
from tests.circles.conftest import join, make_meeting, make_verified
from tests.conftest import PASSWORD, committed, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_deleted_member_leaves_only_anonymous_attendance_counts(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle, in_days=-7)
    services.attendance_prefill(meeting=meeting)
    Attendance.objects.filter(meeting=meeting).update(status="present")
    services.calendar_feed_create(user=circle_member)
    FacilitatorNote.objects.create(
        author_id=facilitator.pk, member_id=circle_member.pk, circle_id=circle.pk, text="Ben M."
    )

    account_services.user_delete(user=circle_member)

    assert meeting.attendance.filter(status="present").count() == 2
    assert meeting.attendance.filter(user__isnull=True).count() == 1
    pii = ["ben@example.com", "Ben Member", "+14155550123"]
    assert find_in_database("default", pii) == []
    assert find_in_database("creds", pii) == []
    assert not CalendarFeed.objects.filter(user_id=circle_member.pk).exists()
    assert not FacilitatorNote.objects.filter(member_id=circle_member.pk).exists()


def delete_through_the_page(user: User) -> HttpResponse:
    return signed_in(user).post("/accounts/settings/delete/", {"password": PASSWORD})


def test_his_seat_goes_to_the_first_man_on_the_waitlist(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    circle.capacity = 2
    circle.save(update_fields=["capacity"])
    first = services.membership_request(
        circle=circle, user=make_verified("wes@example.com"), agreement_version=1
    )
    second = services.membership_request(
        circle=circle, user=make_verified("walt@example.com"), agreement_version=1
    )
    assert first.status == second.status == Membership.Status.WAITLISTED

    with committed():
        response = delete_through_the_page(circle_member)

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.has_offer and not second.has_offer
    offers = Notification.objects.filter(kind="seat_offered", user=first.user)
    assert offers.filter(channel="email", status="sent").count() == 1
    assert circle.memberships.active().count() == 1


def test_the_last_facilitator_hands_his_circle_over_before_deleting_himself(
    circle: Circle, facilitator: User, circle_member: User, superuser: User
) -> None:
    # He pays dues too: the refusal comes before anything is asked of Stripe
    # (which is off here, and would refuse with its own message).
    Customer.objects.create(id="cus_test_fred", subscriber=facilitator, livemode=False)

    response = delete_through_the_page(facilitator)

    assert response.status_code == 200
    page = response.content.decode()
    assert erasure.LAST_LEAD.format(circles=circle.name) in page
    assert STRIPE_UNREACHABLE not in page
    assert circle.memberships.facilitating().get().user == facilitator

    services.membership_role_set(
        membership=circle.memberships.get(user=circle_member),
        role=Membership.Role.FACILITATOR,
        by=superuser,
    )
    Customer.objects.filter(subscriber=facilitator).delete()
    assert delete_through_the_page(facilitator).status_code == 302
    assert not User.objects.filter(pk=facilitator.pk).exists()
    assert circle.memberships.facilitating().get().user == circle_member


def test_the_last_facilitator_of_a_closed_circle_may_go(circle: Circle, facilitator: User) -> None:
    circle.status = Circle.Status.CLOSED
    circle.save(update_fields=["status"])

    assert delete_through_the_page(facilitator).status_code == 302
    assert not circle.memberships.exists()


def test_what_his_facilitators_were_told_about_him_is_emptied(
    circle: Circle, facilitator: User
) -> None:
    sent_before = make_verified("gus@example.com", full_name="Gus Grant")
    with committed():
        services.membership_request(circle=circle, user=sent_before, agreement_version=1)
    pending = make_verified("hal@example.com", full_name="Hal Hughes")
    services.membership_request(circle=circle, user=pending, agreement_version=1)
    told = Notification.objects.filter(user=facilitator, kind="join_request")
    assert {row.status for row in told} == {"sent", "pending"}
    assert "Gus G. asked to join" in told.get(status="sent").body
    other = make_verified("ivan@example.com", full_name="Ivan Ives")
    with committed():
        services.membership_request(circle=circle, user=other, agreement_version=1)

    account_services.user_delete(user=sent_before)
    account_services.user_delete(user=pending)

    rows = list(told.order_by("pk"))
    assert [(row.status, row.subject, row.body) for row in rows[:2]] == [
        ("sent", "", ""),
        ("skipped", "", ""),
    ]
    assert "Ivan I. asked to join" in rows[2].body  # about someone else: kept
    assert delivery.deliver(rows[1].pk).sent == 0


def test_a_broadcast_that_names_him_is_emptied_for_everyone(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    other = make_verified("oli@example.com", full_name="Oli Other")
    join(other, circle)
    with committed():
        broadcasts.broadcast_send(
            circle=circle,
            sender=facilitator,
            title="Welcome",
            text="Welcome back, Ben Member: we missed you.",
            channels=["email"],
        )
        broadcasts.broadcast_send(
            circle=circle,
            sender=facilitator,
            title="Next week",
            text="Bring a chair.",
            channels=["email"],
        )
    to_other = Notification.objects.filter(user=other, kind="broadcast").order_by("pk")
    assert "Ben Member" in to_other[0].body

    account_services.user_delete(user=circle_member)

    assert [row.body != "" for row in to_other] == [False, True]


def test_his_introduction_and_the_confirmation_and_nudge_naming_him_go_with_him(
    circle: Circle, facilitator: User
) -> None:
    intro = "Kestrel-unique words about my divorce."
    kit = make_verified("kit@example.com", full_name="Kit Kestrel")
    with committed():
        membership = services.membership_request(
            circle=circle, user=kit, agreement_version=1, introduction=intro
        )
    Membership.objects.filter(pk=membership.pk).update(
        requested_at=membership.requested_at - timedelta(days=4)
    )
    with committed():
        assert services.requests_nudge() == 1
    nudge = Notification.objects.get(user=facilitator, kind="join_request_waiting")
    assert "Kit K." in nudge.body
    assert Membership.objects.filter(introduction=intro).exists()

    account_services.user_delete(user=kit)

    assert not Membership.objects.filter(introduction__contains="Kestrel").exists()
    nudge.refresh_from_db()
    assert (nudge.subject, nudge.body) == ("", "")
    for alias in ("default", "creds"):
        assert find_in_database(alias, ["Kestrel-unique", "Kit Kestrel"]) == [], alias
