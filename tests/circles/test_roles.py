"""Roles change only by the right person, and a circle always keeps its lead facilitator.

A facilitator cannot edit roles in the admin; a superuser can; a circle's lead
facilitator makes an active member co-facilitator through an action that asks
first. Nobody removes or demotes the circle's last lead (checked in the service
with the circle locked, so two leads demoting each other at once leave one).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connections
from django.test import Client

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from tests.circles.conftest import join, make_circle, make_verified
from tests.circles.test_admin_access import World, make_facilitator, make_world
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

LEAD = Membership.Role.FACILITATOR
CO = Membership.Role.CO_FACILITATOR
MEMBER = Membership.Role.MEMBER


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def membership(user: User, circle: Circle | None = None) -> Membership:
    rows = Membership.objects.filter(user=user)
    return (rows.filter(circle=circle) if circle else rows).get()


def role_of(user: User) -> str:
    return membership(user).role


def change_role(client: Client, row: Membership, role: str):
    return client.post(f"/admin/circles/membership/{row.pk}/change/", {"role": role}, follow=True)


def act(client: Client, action: str, *pks: int, confirm: bool = False):
    data = {"action": action, "_selected_action": list(pks)}
    if confirm:
        data["post"] = "yes"
    return client.post("/admin/circles/membership/", data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def add_co_facilitator(world: World) -> User:
    co = make_facilitator("co-a@example.com", "Cody Co", world.a.circle, role=CO)
    return co


# --- A facilitator cannot change roles by hand ------------------------------------------


def test_the_role_is_read_only_for_a_facilitator(world: World) -> None:
    al = signed_in(world.a.facilitator)
    row = membership(world.a.member)

    page = al.get(f"/admin/circles/membership/{row.pk}/change/").content.decode()
    response = change_role(al, row, CO)

    assert 'name="role"' not in page
    assert response.status_code == 200
    assert role_of(world.a.member) == MEMBER


def test_a_facilitator_cannot_demote_himself_or_the_lead(world: World) -> None:
    co = add_co_facilitator(world)
    client = signed_in(co)

    change_role(client, membership(world.a.facilitator), MEMBER)
    change_role(client, membership(co), MEMBER)
    al = signed_in(world.a.facilitator)
    change_role(al, membership(world.a.facilitator), MEMBER)

    assert role_of(world.a.facilitator) == LEAD
    assert role_of(co) == CO


def test_a_superuser_changes_roles_in_the_form(world: World) -> None:
    root = signed_in(world.superuser)

    response = change_role(root, membership(world.a.member), CO)

    assert response.status_code == 200
    assert role_of(world.a.member) == CO


def test_a_superuser_cannot_demote_the_last_lead_and_nothing_changes(world: World) -> None:
    root = signed_in(world.superuser)
    row = membership(world.a.facilitator)

    response = change_role(root, row, CO)

    assert messages_of(response) == [services.LAST_FACILITATOR]
    assert role_of(world.a.facilitator) == LEAD
    assert not LogEntry.objects.filter(object_id=str(row.pk)).exists()


def test_a_superuser_demotes_a_lead_once_another_lead_exists(world: World) -> None:
    root = signed_in(world.superuser)
    change_role(root, membership(world.a.member), LEAD)

    change_role(root, membership(world.a.facilitator), MEMBER)

    assert role_of(world.a.facilitator) == MEMBER
    assert role_of(world.a.member) == LEAD


# --- "Make co-facilitator": the lead's action, asked first --------------------------------


def test_the_lead_is_asked_first_then_makes_a_member_co_facilitator(world: World) -> None:
    al = signed_in(world.a.facilitator)
    row = membership(world.a.member)

    asked = act(al, "make_co_facilitator", row.pk)
    assert role_of(world.a.member) == MEMBER
    page = asked.content.decode()
    assert "Make co-facilitator?" in page and "Member Alderman" in page
    assert 'name="post" value="yes"' in page

    done = act(al, "make_co_facilitator", row.pk, confirm=True)

    assert role_of(world.a.member) == CO
    assert messages_of(done) == ["Made co-facilitator: Member Alderman (Alder Circle)."]
    assert LogEntry.objects.filter(
        object_id=str(row.pk), change_message="Made co-facilitator."
    ).exists()


def test_the_new_co_facilitator_reaches_the_circles_admin(world: World) -> None:
    act(
        signed_in(world.a.facilitator),
        "make_co_facilitator",
        membership(world.a.member).pk,
        confirm=True,
    )
    member = world.a.member
    member.is_staff = True
    member.save(update_fields=["is_staff"])
    member.groups.add(world.a.facilitator.groups.get())

    page = signed_in(member).get("/admin/circles/membership/").content.decode()

    assert "Asker Alderson" in page


def test_the_lead_cannot_promote_a_request_or_another_circles_member(world: World) -> None:
    al = signed_in(world.a.facilitator)

    request = act(al, "make_co_facilitator", world.a.request.pk, confirm=True)
    act(al, "make_co_facilitator", membership(world.b.member).pk, confirm=True)

    assert messages_of(request) == [f"Asker Alderson (Alder Circle): {services.ROLE_NOT_YOURS}"]
    assert Membership.objects.get(pk=world.a.request.pk).role == MEMBER
    assert role_of(world.b.member) == MEMBER


def test_a_co_facilitator_has_no_such_action(world: World) -> None:
    co = add_co_facilitator(world)
    client = signed_in(co)

    changelist = client.get("/admin/circles/membership/").content.decode()
    response = act(client, "make_co_facilitator", membership(world.a.member).pk, confirm=True)

    assert "make_co_facilitator" not in changelist
    assert messages_of(response) == ["No action selected."]
    assert role_of(world.a.member) == MEMBER


@pytest.mark.parametrize("who", ["anonymous", "member", "outsider"])
def test_the_action_is_out_of_reach_for_non_staff(world: World, who: str) -> None:
    client = {
        "anonymous": Client,
        "member": lambda: signed_in(world.a.member),
        "outsider": lambda: signed_in(world.outsider),
    }[who]()

    response = client.post(
        "/admin/circles/membership/",
        {
            "action": "make_co_facilitator",
            "_selected_action": [membership(world.a.member).pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert role_of(world.a.member) == MEMBER


def test_a_superuser_may_use_the_action_on_any_circle(world: World) -> None:
    root = signed_in(world.superuser)

    act(root, "make_co_facilitator", membership(world.b.member).pk, confirm=True)

    assert role_of(world.b.member) == CO


# --- Removing facilitators ----------------------------------------------------------------


def test_a_co_facilitator_cannot_remove_the_lead(world: World) -> None:
    co = add_co_facilitator(world)

    response = act(signed_in(co), "remove", membership(world.a.facilitator).pk)

    assert messages_of(response) == [f"Fac Alder (Alder Circle): {services.REMOVE_NOT_YOURS}"]
    assert membership(world.a.facilitator).status == Membership.Status.ACTIVE


def test_the_lead_removes_a_co_facilitator_and_a_co_facilitator_removes_a_member(
    world: World,
) -> None:
    co = add_co_facilitator(world)

    act(signed_in(co), "remove", membership(world.a.member).pk)
    act(signed_in(world.a.facilitator), "remove", membership(co).pk)

    assert membership(world.a.member).status == Membership.Status.LEFT
    assert membership(co).status == Membership.Status.LEFT


def test_nobody_removes_the_last_lead(world: World) -> None:
    add_co_facilitator(world)
    row = membership(world.a.facilitator)

    by_root = act(signed_in(world.superuser), "remove", row.pk)
    by_himself = act(signed_in(world.a.facilitator), "remove", row.pk)

    assert messages_of(by_root) == [f"Fac Alder (Alder Circle): {services.LAST_FACILITATOR}"]
    assert messages_of(by_himself) == [f"Fac Alder (Alder Circle): {services.LAST_FACILITATOR}"]
    assert membership(world.a.facilitator).status == Membership.Status.ACTIVE


def test_the_last_lead_cannot_leave_from_the_circle_page(world: World) -> None:
    client = signed_in(world.a.facilitator)

    response = client.post(f"/circles/{world.a.circle.slug}/leave/", follow=True)

    assert services.LAST_FACILITATOR in [str(m) for m in response.context["messages"]]
    assert membership(world.a.facilitator).status == Membership.Status.ACTIVE


# --- The rule itself, in the service ------------------------------------------------------


def test_the_rule_case_by_case(db: None) -> None:
    circle = make_circle()
    lead = join(make_verified("lead@example.com"), circle, role=LEAD)
    co = join(make_verified("co@example.com"), circle, role=CO)
    plain = join(make_verified("plain@example.com"), circle)
    root = User.objects.create_superuser("root@example.com", "x", full_name="Root")

    # A plain member leaves freely; a co-facilitator too while the lead stays.
    services.membership_leave(membership=plain)
    services.membership_role_set(membership=co, role=MEMBER, by=root)
    # The last lead: neither demoted to co-facilitator nor removed.
    for attempt in (
        lambda: services.membership_role_set(membership=lead, role=CO, by=root),
        lambda: services.membership_role_set(membership=lead, role=MEMBER, by=root),
        lambda: services.membership_leave(membership=lead),
    ):
        with pytest.raises(services.CircleError) as refused:
            attempt()
        assert refused.value.message == services.LAST_FACILITATOR
    assert Membership.objects.get(pk=lead.pk).role == LEAD

    # A circle run only by co-facilitators (its lead deleted his account) keeps its last one.
    lead.delete()
    services.membership_role_set(membership=co, role=CO, by=root)
    with pytest.raises(services.CircleError):
        services.membership_leave(membership=co)
    services.membership_role_set(membership=co, role=LEAD, by=root)
    assert Membership.objects.get(pk=co.pk).role == LEAD


def test_an_unknown_role_is_refused(world: World) -> None:
    with pytest.raises(services.CircleError) as refused:
        services.membership_role_set(
            membership=membership(world.a.member), role="king", by=world.superuser
        )

    assert refused.value.message == services.UNKNOWN_ROLE


@pytest.mark.django_db(databases="__all__", transaction=True)
@pytest.mark.parametrize("how", ["demote", "remove"])
def test_two_leads_pushing_each_other_out_at_once_leave_one_lead(how: str) -> None:
    circle = make_circle()
    root = User.objects.create_superuser("root@example.com", "x", full_name="Root")
    leads = [join(make_verified(f"lead{n}@example.com"), circle, role=LEAD) for n in (1, 2)]
    barrier = threading.Barrier(2)

    def push_out(row: Membership) -> str:
        try:
            barrier.wait(timeout=5)
            if how == "demote":
                services.membership_role_set(membership=row, role=MEMBER, by=root)
            else:
                services.membership_remove(membership=row, by=root)
            return "done"
        except services.CircleError as error:
            return error.message
        finally:
            for connection in connections.all():
                connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(push_out, leads))

    assert outcomes == sorted(["done", services.LAST_FACILITATOR])
    assert circle.memberships.facilitating().filter(role=LEAD).count() == 1
