"""The facilitator admin is scoped to his own circles, by any URL.

Two circles, Alder (run by Al) and Birch (run by Ben), each with a member, a
join request, a past meeting with attendance, agreements and a private note.
Al must never see, open, change, export or chart anything of Birch's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import (
    Agreement,
    Attendance,
    Circle,
    FacilitatorNote,
    Meeting,
    Membership,
)
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

FACILITATOR_PERMISSIONS = {
    "view_circle",
    "change_circle",
    "view_membership",
    "change_membership",
    "add_meeting",
    "view_meeting",
    "change_meeting",
    "add_attendance",
    "view_attendance",
    "change_attendance",
    "add_agreement",
    "view_agreement",
    "add_facilitatornote",
    "view_facilitatornote",
    "change_facilitatornote",
    "delete_facilitatornote",
}


group_migration = importlib.import_module("circles.migrations.0002_facilitators_group")


def run_group_migration() -> None:
    group_migration.create_group(apps, SimpleNamespace(connection=connection))


def facilitators_group() -> Group:
    """The group made by the migration (again, if a transactional test flushed it)."""
    if not Group.objects.filter(name="Facilitators").exists():
        run_group_migration()
    return Group.objects.get(name="Facilitators")


def make_facilitator(email: str, name: str, circle: Circle, role: str = "facilitator") -> User:
    """Staff, in the Facilitators group, running `circle`."""
    user = make_verified(email, full_name=name, is_staff=True)
    user.groups.add(facilitators_group())
    join(user, circle, role=role)
    return user


@dataclass
class Side:
    """One circle and everything in it."""

    circle: Circle
    facilitator: User
    member: User
    request: Membership
    meeting: Meeting
    agreement: Agreement
    note: FacilitatorNote


@dataclass
class World:
    a: Side
    b: Side
    superuser: User
    outsider: User


def make_side(tag: str, tree: str) -> Side:
    circle = make_circle(name=f"{tree} Circle", slug=f"{tree.lower()}-circle")
    facilitator = make_facilitator(f"fac-{tag}@example.com", f"Fac {tree}", circle)
    member = make_verified(f"member-{tag}@example.com", full_name=f"Member {tree}man")
    join(member, circle)
    asker = make_verified(f"asker-{tag}@example.com", full_name=f"Asker {tree}son")
    request = Membership.objects.create(
        circle=circle, user=asker, requested_at=timezone.now() - timedelta(days=5)
    )
    meeting = make_meeting(circle, in_days=-7, note=f"{tree} meeting")
    Attendance.objects.create(meeting=meeting, user=member, status=Attendance.Status.PRESENT)
    agreement = services.agreement_publish(circle=circle, text=f"{tree} agreements text.")
    note = FacilitatorNote.objects.create(
        author_id=facilitator.pk,
        member_id=member.pk,
        circle_id=circle.pk,
        text=f"{tree} private note",
    )
    return Side(circle, facilitator, member, request, meeting, agreement, note)


def make_world() -> World:
    return World(
        a=make_side("a", "Alder"),
        b=make_side("b", "Birch"),
        superuser=User.objects.create_superuser("root@example.com", PASSWORD, full_name="Root"),
        outsider=make_verified("outsider@example.com", full_name="Otto Outsider"),
    )


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def object_urls(side: Side) -> list[str]:
    """Every admin URL that shows or touches one of the side's objects."""
    c, m, mt, ag, n = side.circle, side.request, side.meeting, side.agreement, side.note
    urls = [
        f"/admin/circles/circle/{c.pk}/attendance.csv",
        f"/admin/circles/circle/{c.pk}/attendance.svg",
        f"/admin/circles/membership/{m.pk}/answer/",
    ]
    for model, pk in (
        ("circle", c.pk),
        ("membership", m.pk),
        ("meeting", mt.pk),
        ("agreement", ag.pk),
        ("facilitatornote", n.pk),
    ):
        urls += [f"/admin/circles/{model}/{pk}/{page}/" for page in ("change", "delete", "history")]
    return urls


LISTS = [
    "/admin/",
    "/admin/circles/",
    "/admin/circles/circle/",
    "/admin/circles/membership/",
    "/admin/circles/meeting/",
    "/admin/circles/agreement/",
    "/admin/circles/facilitatornote/",
    "/admin/circles/circle/at-risk/",
]


# --- Who gets in at all -----------------------------------------------------------------


def test_the_migration_gives_the_facilitators_group_its_permissions(world: World) -> None:
    group = facilitators_group()

    # Its circles permissions (events adds its own: a circle's facilitators run its events).
    codenames = set(
        group.permissions.filter(content_type__app_label="circles").values_list(
            "codename", flat=True
        )
    )

    assert codenames == FACILITATOR_PERMISSIONS
    assert not Permission.objects.filter(group=group, codename__startswith="delete_circle")


def test_the_group_migration_is_idempotent(db: None) -> None:
    Group.objects.filter(name="Facilitators").delete()

    run_group_migration()
    run_group_migration()

    group = Group.objects.get(name="Facilitators")
    assert set(group.permissions.values_list("codename", flat=True)) == FACILITATOR_PERMISSIONS


@pytest.mark.parametrize("who", ["anonymous", "member", "outsider"])
def test_anonymous_and_non_staff_are_sent_to_the_admin_sign_in(world: World, who: str) -> None:
    client = {
        "anonymous": Client,
        "member": lambda: signed_in(world.a.member),
        "outsider": lambda: signed_in(world.outsider),
    }[who]()

    for url in [*LISTS, *object_urls(world.a)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_staff_in_the_group_without_a_circle_sees_empty_lists(world: World) -> None:
    idle = make_verified("idle@example.com", full_name="Idle Staff", is_staff=True)
    idle.groups.add(facilitators_group())
    client = signed_in(idle)

    for url in LISTS[2:]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"Alder" not in response.content and b"Birch" not in response.content, url
    for url in object_urls(world.a):
        assert client.get(url).status_code == 404, url


# --- Another circle, by any URL ---------------------------------------------------------


def test_a_facilitator_cannot_open_another_circles_objects_by_any_url(world: World) -> None:
    client = signed_in(world.a.facilitator)

    for url in object_urls(world.b):
        assert client.get(url).status_code == 404, url


def test_a_facilitator_cannot_post_changes_or_deletions_to_another_circle(world: World) -> None:
    client = signed_in(world.a.facilitator)
    b = world.b

    for url in object_urls(b):
        if not url.endswith(("change/", "delete/", "answer/")):
            continue
        data = {
            "post": "yes",
            "name": "Taken",
            "text": "Taken",
            "note": "Taken",
            "role": "member",
            "decision": "approve",
        }
        assert client.post(url, data).status_code == 404, url

    b.circle.refresh_from_db()
    b.note.refresh_from_db()
    assert b.circle.name == "Birch Circle"
    assert b.note.text == "Birch private note"
    assert Membership.objects.filter(pk=b.request.pk, status=Membership.Status.REQUESTED).exists()
    assert Meeting.objects.filter(pk=b.meeting.pk, note="Birch meeting").exists()
    # Opening the other circle's meeting did not prefill its attendance either.
    assert Attendance.objects.filter(meeting=b.meeting).count() == 1


@pytest.mark.parametrize(
    "url",
    [
        *LISTS,
        "/admin/circles/membership/?circle__id__exact={b}",
        "/admin/circles/membership/?q=Member",
    ],
)
def test_another_circles_names_and_members_never_appear_in_his_lists(
    world: World, url: str
) -> None:
    client = signed_in(world.a.facilitator)

    page = client.get(url.format(b=world.b.circle.pk)).content.decode()

    for secret in ("Birch", "Fac Birch", "Member Birchman", "Asker Birchson"):
        assert secret not in page, (url, secret)


def test_his_lists_show_his_own_circle(world: World) -> None:
    client = signed_in(world.a.facilitator)
    expected = {
        "/admin/circles/circle/": "Alder Circle",
        "/admin/circles/membership/": "Member Alderman",
        "/admin/circles/meeting/": "Alder meeting",
        "/admin/circles/agreement/": "Alder Circle",
        "/admin/circles/facilitatornote/": "Alder private note",
        "/admin/circles/circle/at-risk/": "Asker Alderson",
    }
    for url, text in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


def test_he_cannot_create_or_move_objects_into_another_circle(world: World) -> None:
    client = signed_in(world.a.facilitator)
    a, b = world.a, world.b
    start = timezone.now() + timedelta(days=20)
    meeting = {
        "circle": b.circle.pk,
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": "19:00:00",
        "ends_at_0": start.strftime("%Y-%m-%d"),
        "ends_at_1": "20:30:00",
        "status": "scheduled",
    }

    add_meeting = client.post("/admin/circles/meeting/add/", meeting)
    add_agreement = client.post(
        "/admin/circles/agreement/add/", {"circle": b.circle.pk, "text": "Hijack"}
    )
    move_meeting = client.post(
        f"/admin/circles/meeting/{a.meeting.pk}/change/",
        {**meeting, "attendance-TOTAL_FORMS": "0", "attendance-INITIAL_FORMS": "0"},
    )

    for response in (add_meeting, add_agreement, move_meeting):
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not Meeting.objects.filter(circle=b.circle).exclude(pk=b.meeting.pk).exists()
    assert not Agreement.objects.filter(text="Hijack").exists()
    a.meeting.refresh_from_db()
    assert a.meeting.circle_id == a.circle.pk
    # Nor may he pick another circle's member to lead his meeting.
    leader = client.post(
        "/admin/circles/meeting/add/",
        {**meeting, "circle": a.circle.pk, "leader": b.member.pk},
    )
    assert "Select a valid choice" in leader.content.decode()


def test_attendance_inline_offers_only_his_circles_members(world: World) -> None:
    client = signed_in(world.a.facilitator)
    a, b = world.a, world.b
    row = Attendance.objects.get(meeting=a.meeting, user=a.member)

    page = client.get(f"/admin/circles/meeting/{a.meeting.pk}/change/").content.decode()
    response = client.post(
        f"/admin/circles/meeting/{a.meeting.pk}/change/",
        {
            **meeting_form(a.meeting),
            "attendance-TOTAL_FORMS": "1",
            "attendance-INITIAL_FORMS": "1",
            "attendance-0-id": row.pk,
            "attendance-0-meeting": a.meeting.pk,
            "attendance-0-user": b.member.pk,
            "attendance-0-status": "present",
        },
    )

    assert "Member Alderman" in page
    assert "Member Birchman" not in page and "Fac Birch" not in page
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Attendance.objects.filter(meeting=a.meeting, user=b.member).exists()


def meeting_form(meeting: Meeting) -> dict[str, object]:
    starts = timezone.localtime(meeting.starts_at)
    ends = timezone.localtime(meeting.ends_at)
    return {
        "circle": meeting.circle_id,
        "starts_at_0": f"{starts:%Y-%m-%d}",
        "starts_at_1": f"{starts:%H:%M:%S}",
        "ends_at_0": f"{ends:%Y-%m-%d}",
        "ends_at_1": f"{ends:%H:%M:%S}",
        "status": meeting.status,
        "note": meeting.note,
        "leader": meeting.leader_id or "",
    }


def test_actions_on_another_circles_rows_do_nothing(world: World) -> None:
    client = signed_in(world.a.facilitator)
    b = world.b

    client.post(
        "/admin/circles/membership/",
        {"action": "approve", "_selected_action": [b.request.pk]},
    )
    client.post(
        "/admin/circles/meeting/",
        {"action": "cancel", "_selected_action": [b.meeting.pk]},
    )

    b.request.refresh_from_db()
    b.meeting.refresh_from_db()
    assert b.request.status == Membership.Status.REQUESTED
    assert b.meeting.status == Meeting.Status.SCHEDULED


def test_facilitators_cannot_add_or_delete_circles(world: World) -> None:
    client = signed_in(world.a.facilitator)
    own = world.a.circle

    assert client.get("/admin/circles/circle/add/").status_code == 403
    assert (
        client.post(f"/admin/circles/circle/{own.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert Circle.objects.filter(pk=own.pk).exists()


# --- His own circle ---------------------------------------------------------------------


def test_he_opens_every_page_of_his_own_circle(world: World) -> None:
    client = signed_in(world.a.facilitator)

    for url in object_urls(world.a):
        # Only his notes may be deleted: circles, rows and meetings are kept.
        expected = 403 if url.endswith("delete/") and "facilitatornote" not in url else 200
        assert client.get(url).status_code == expected, url


def test_he_changes_his_own_circle(world: World) -> None:
    client = signed_in(world.a.facilitator)
    circle = world.a.circle

    response = client.post(
        f"/admin/circles/circle/{circle.pk}/change/",
        {
            "name": "Alder Circle",
            "slug": "hijacked-slug",
            "description": "We meet by the old alder.",
            "capacity": 8,
            "status": "open",
            "is_listed": "on",
            "time_zone": "America/New_York",
            "weekday": 1,
            "start_time": "19:00",
            "duration_minutes": 90,
            "frequency": "weekly",
            "starts_on": f"{circle.starts_on:%Y-%m-%d}",
            "location_kind": "in_person",
            "agreements-TOTAL_FORMS": "1",
            "agreements-INITIAL_FORMS": "1",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    circle.refresh_from_db()
    assert circle.description == "We meet by the old alder."
    assert circle.capacity == 8
    assert circle.slug == "alder-circle"  # read-only for facilitators


def test_a_superuser_sees_and_opens_every_circle(world: World) -> None:
    client = signed_in(world.superuser)

    page = client.get("/admin/circles/circle/").content.decode()

    assert "Alder Circle" in page and "Birch Circle" in page
    for url in object_urls(world.b):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/circles/circle/add/").status_code == 200
