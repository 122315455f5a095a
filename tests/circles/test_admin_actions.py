"""Facilitator admin actions go through circles.services and report each row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from circles import services
from circles.models import RSVP, Agreement, Attendance, Meeting, Membership
from tests.circles.conftest import join, make_meeting, make_verified
from tests.circles.test_admin_access import World, make_world, meeting_form
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def act(client: Client, model: str, action: str, *pks: int) -> list[str]:
    """Run an admin action; the messages it left."""
    response = client.post(
        f"/admin/circles/{model}/",
        {"action": action, "_selected_action": list(pks)},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def waiting(world: World, email: str, name: str, **fields: object) -> Membership:
    user = make_verified(email, full_name=name)
    return Membership.objects.create(circle=world.a.circle, user=user, **fields)


# --- Memberships ------------------------------------------------------------------------


def test_approving_a_request_lets_him_in(world: World, al: Client) -> None:
    request = world.a.request

    messages = act(al, "membership", "approve", request.pk)

    request.refresh_from_db()
    assert request.status == Membership.Status.ACTIVE
    assert messages == ["Approved: Asker Alderson (Alder Circle)."]


def test_approving_when_full_reports_circle_full_and_changes_nothing(
    world: World, al: Client
) -> None:
    circle = world.a.circle
    circle.capacity = 2  # the facilitator and the member already fill it
    circle.save(update_fields=["capacity"])

    messages = act(al, "membership", "approve", world.a.request.pk)

    world.a.request.refresh_from_db()
    assert world.a.request.status == Membership.Status.REQUESTED
    assert messages == [f"Asker Alderson (Alder Circle): {services.CIRCLE_FULL}"]


def test_each_row_gets_its_own_message(world: World, al: Client) -> None:
    active = Membership.objects.get(user=world.a.member)

    messages = act(al, "membership", "approve", world.a.request.pk, active.pk)

    assert sorted(messages) == sorted(
        [
            "Approved: Asker Alderson (Alder Circle).",
            f"Member Alderman (Alder Circle): {services.NOT_PENDING}",
        ]
    )


def test_declining_a_request_offers_the_seat_to_the_waitlist(world: World, al: Client) -> None:
    circle = world.a.circle
    circle.capacity = 3  # facilitator, member and the request
    circle.save(update_fields=["capacity"])
    next_man = waiting(world, "next@example.com", "Ned Next", status=Membership.Status.WAITLISTED)

    messages = act(al, "membership", "decline", world.a.request.pk)

    world.a.request.refresh_from_db()
    next_man.refresh_from_db()
    assert world.a.request.status == Membership.Status.DECLINED
    assert next_man.has_offer
    assert messages == ["Declined: Asker Alderson (Alder Circle)."]


def test_offering_a_seat_goes_to_the_first_man_waiting(world: World, al: Client) -> None:
    first = waiting(
        world,
        "first@example.com",
        "Fred First",
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now() - timedelta(days=2),
    )
    second = waiting(world, "second@example.com", "Sam Second", status="waitlisted")
    circle = world.a.circle
    circle.capacity = 4  # facilitator, member, request: one seat free
    circle.save(update_fields=["capacity"])

    messages = act(al, "membership", "offer_seats", second.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.has_offer and not second.has_offer
    assert messages == ["Alder Circle: seat offered to Fred First."]


def test_offering_with_no_free_seat_says_so(world: World, al: Client) -> None:
    circle = world.a.circle
    circle.capacity = 3
    circle.save(update_fields=["capacity"])
    man = waiting(world, "wait@example.com", "Walt Wait", status=Membership.Status.WAITLISTED)

    messages = act(al, "membership", "offer_seats", man.pk)

    man.refresh_from_db()
    assert not man.has_offer
    assert messages == ["Alder Circle: no seat to offer (no free seat, or nobody waiting)."]


def test_removing_a_member_and_removing_him_again(world: World, al: Client) -> None:
    membership = Membership.objects.get(user=world.a.member)

    first = act(al, "membership", "remove", membership.pk)
    again = act(al, "membership", "remove", membership.pk)

    membership.refresh_from_db()
    assert membership.status == Membership.Status.LEFT
    assert first == ["Removed: Member Alderman (Alder Circle)."]
    assert again == [f"Member Alderman (Alder Circle): {services.NOT_MEMBER_TO_LEAVE}"]


def test_a_facilitator_changes_neither_role_nor_status_by_hand(world: World, al: Client) -> None:
    membership = Membership.objects.get(user=world.a.member)

    response = al.post(
        f"/admin/circles/membership/{membership.pk}/change/",
        {"role": "co_facilitator", "status": "left"},
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    # Roles change through "Make co-facilitator" (tests/circles/test_roles.py).
    assert membership.role == Membership.Role.MEMBER
    assert membership.status == Membership.Status.ACTIVE


# --- Meetings and attendance ------------------------------------------------------------


def test_cancelling_meetings(world: World, al: Client) -> None:
    upcoming = make_meeting(world.a.circle, in_days=5)
    held = make_meeting(world.a.circle, in_days=-14, status=Meeting.Status.HELD)

    asked = al.post(
        "/admin/circles/meeting/",
        {"action": "cancel", "_selected_action": [upcoming.pk, held.pk]},
    )
    assert "Cancel these meetings?" in asked.content.decode()
    upcoming.refresh_from_db()
    assert upcoming.status == Meeting.Status.SCHEDULED  # asking first changes nothing

    response = al.post(
        "/admin/circles/meeting/",
        {
            "action": "cancel",
            "_selected_action": [upcoming.pk, held.pk],
            "post": "yes",
            "reason": "Fred is away.",
        },
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]

    upcoming.refresh_from_db()
    held.refresh_from_db()
    assert upcoming.status == Meeting.Status.CANCELLED
    assert held.status == Meeting.Status.HELD
    assert len(messages) == 2
    assert any(m.startswith("Cancelled: Alder Circle on") for m in messages)
    assert any(m.endswith("not cancelled, it is held.") for m in messages)


def test_opening_a_past_meeting_writes_nothing_and_the_grid_excuses_an_earlier_no(
    world: World, al: Client
) -> None:
    circle = world.a.circle
    meeting = make_meeting(circle, in_days=-1)
    regrets = make_verified("regrets@example.com", full_name="Rex Regrets")
    join(regrets, circle)
    late = make_verified("late@example.com", full_name="Lou Late")
    join(late, circle)
    RSVP.objects.create(
        meeting=meeting,
        user=regrets,
        response="no",
        responded_at=meeting.starts_at - timedelta(hours=3),
    )
    # A "no" after the start is no excuse.
    RSVP.objects.create(
        meeting=meeting,
        user=late,
        response="no",
        responded_at=meeting.starts_at + timedelta(hours=1),
    )

    page = al.get(f"/admin/circles/meeting/{meeting.pk}/change/")
    grid = al.get(f"/admin/circles/meeting/{meeting.pk}/attendance/")

    assert page.status_code == 200 and grid.status_code == 200
    assert not Attendance.objects.filter(meeting=meeting).exists()
    form = grid.context["form"]
    suggested = {m.user.email: form[f"m{m.user_id}"].initial for m in form.memberships}
    assert suggested == {
        "fac-a@example.com": None,
        "member-a@example.com": None,
        "regrets@example.com": "excused",
        "late@example.com": None,
    }
    assert "Rex Regrets" in grid.content.decode()


def test_a_future_meeting_is_not_prefilled(world: World, al: Client) -> None:
    meeting = make_meeting(world.a.circle, in_days=3)

    assert al.get(f"/admin/circles/meeting/{meeting.pk}/change/").status_code == 200

    assert not Attendance.objects.filter(meeting=meeting).exists()


def test_taking_attendance_through_the_inline(world: World, al: Client) -> None:
    meeting = world.a.meeting
    services.attendance_prefill(meeting=meeting)
    rows = list(Attendance.objects.filter(meeting=meeting).order_by("user__full_name"))
    data = {
        **meeting_form(meeting),
        "status": "held",
        "attendance-TOTAL_FORMS": str(len(rows)),
        "attendance-INITIAL_FORMS": str(len(rows)),
    }
    for i, row in enumerate(rows):
        data |= {
            f"attendance-{i}-id": row.pk,
            f"attendance-{i}-meeting": meeting.pk,
            f"attendance-{i}-user": row.user_id,
            f"attendance-{i}-status": "present",
        }

    response = al.post(f"/admin/circles/meeting/{meeting.pk}/change/", data)

    assert response.status_code == 302, response.context["errors"]
    assert set(Attendance.objects.filter(meeting=meeting).values_list("status", flat=True)) == {
        "present"
    }
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.HELD


# --- Agreements -------------------------------------------------------------------------


def test_publishing_agreements_makes_the_next_version(world: World, al: Client) -> None:
    circle = world.a.circle

    form = al.get(f"/admin/circles/agreement/add/?circle={circle.pk}")
    response = al.post(
        "/admin/circles/agreement/add/", {"circle": circle.pk, "text": "Phones off."}
    )

    assert form.status_code == 200
    assert response.status_code == 302
    latest = services.current_agreement(circle)
    assert (latest.version, latest.text) == (2, "Phones off.")
    assert 'name="version"' not in form.content.decode()


def test_published_agreements_are_read_only(world: World) -> None:
    agreement = world.a.agreement
    for user in (world.a.facilitator, world.superuser):
        client = signed_in(user)
        page = client.get(f"/admin/circles/agreement/{agreement.pk}/change/")
        response = client.post(
            f"/admin/circles/agreement/{agreement.pk}/change/",
            {"circle": agreement.circle_id, "text": "Rewritten"},
        )
        assert page.status_code == 200
        assert 'name="text"' not in page.content.decode()
        assert response.status_code == 403
    agreement.refresh_from_db()
    assert agreement.text == "Alder agreements text."
    assert Agreement.objects.filter(circle=world.a.circle).count() == 1
