"""A join request's own admin page: who he is, what he wrote, how long he has waited,
and Approve / Decline / Offer a seat, each with an optional word to him in his email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone

from circles import admin_requests
from circles.models import Membership
from tests.circles.conftest import join, make_verified
from tests.circles.test_admin_access import World, make_world
from tests.conftest import committed, force_signed_in, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

INTRO = "I lost my father this year and want men around me who listen."


@pytest.fixture
def world(db: None) -> World:
    world = make_world()
    world.a.request.introduction = INTRO
    world.a.request.save(update_fields=["introduction"])
    world.a.request.user.display_name = "Ash"
    world.a.request.user.save(update_fields=["display_name"])
    return world


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def url(membership: Membership) -> str:
    return f"/admin/circles/membership/{membership.pk}/answer/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Who may open it ---------------------------------------------------------------------


def test_his_facilitator_reads_name_introduction_and_wait_without_a_role_field(
    world: World, al: Client
) -> None:
    response = al.get(url(world.a.request))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ash (Asker Alderson)" in page
    assert INTRO in page
    assert "waiting 5 days" in page
    assert "longer than the 3 days he was told to expect" in page
    for button in ("Approve", "Decline"):
        assert f'value="{button.lower()}"' in page
    assert 'value="offer"' not in page  # a request, not a waitlist place
    assert 'name="role"' not in page
    assert "Role" not in page


def test_another_circles_facilitator_gets_404_and_changes_nothing(world: World) -> None:
    client = signed_in(world.b.facilitator)

    assert client.get(url(world.a.request)).status_code == 404
    assert client.post(url(world.a.request), {"decision": "approve"}).status_code == 404
    world.a.request.refresh_from_db()
    assert world.a.request.status == Membership.Status.REQUESTED


@pytest.mark.parametrize("who", ["member", "asker", "outsider"])
def test_a_member_the_asker_and_an_outsider_are_sent_to_the_admin_login(
    world: World, who: str
) -> None:
    user = {
        "member": world.a.member,
        "asker": world.a.request.user,
        "outsider": world.outsider,
    }[who]
    client = force_signed_in(user)

    for response in (
        client.get(url(world.a.request)),
        client.post(url(world.a.request), {"decision": "approve"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    world.a.request.refresh_from_db()
    assert world.a.request.status == Membership.Status.REQUESTED


def test_anonymous_is_sent_to_the_admin_login(world: World) -> None:
    response = Client().get(url(world.a.request))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_opening_the_page_writes_nothing(world: World, al: Client) -> None:
    before = list(Membership.objects.order_by("pk").values())

    al.get(url(world.a.request))

    assert list(Membership.objects.order_by("pk").values()) == before


# --- The answers ---------------------------------------------------------------------------


def test_approve_with_a_word_lets_him_in_and_the_word_is_in_his_email(
    world: World, al: Client
) -> None:
    request = world.a.request
    with committed():
        response = al.post(
            url(request),
            {"decision": "approve", "message": "See you Tuesday, Ash."},
            follow=True,
        )

    assert response.status_code == 200
    assert any("Approved" in m for m in messages_of(response))
    request.refresh_from_db()
    assert request.status == Membership.Status.ACTIVE
    (welcome,) = [m for m in mail.outbox if m.to == [request.user.email]]
    assert welcome.subject == "Welcome to Alder Circle"
    assert "See you Tuesday, Ash." in welcome.body
    assert "This request is no longer waiting" in response.content.decode()


def test_decline_without_a_word_sends_the_plain_email(world: World, al: Client) -> None:
    request = world.a.request
    with committed():
        al.post(url(request), {"decision": "decline", "message": ""})

    request.refresh_from_db()
    assert request.status == Membership.Status.DECLINED
    (email,) = [m for m in mail.outbox if m.to == [request.user.email]]
    assert "A word from the facilitator" not in email.body


def test_offer_a_seat_to_the_first_man_waiting_with_a_word(world: World, al: Client) -> None:
    circle = world.a.circle
    circle.capacity = 3  # the member, the facilitator and the request fill it
    circle.save(update_fields=["capacity"])
    wes = Membership.objects.create(
        circle=circle,
        user=make_verified("wes@example.com", full_name="Wes Waiting"),
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now() - timedelta(days=2),
    )
    page = al.get(url(wes)).content.decode()
    assert 'value="offer"' in page and 'value="approve"' not in page
    # A seat frees up (the request is withdrawn) without the cron offering it yet.
    Membership.objects.filter(pk=world.a.request.pk).update(status=Membership.Status.LEFT)

    with committed():
        response = al.post(url(wes), {"decision": "offer", "message": "Your turn."}, follow=True)

    assert any("A seat is offered to Wes Waiting" in m for m in messages_of(response))
    wes.refresh_from_db()
    assert wes.has_offer
    (offer,) = [m for m in mail.outbox if m.to == ["wes@example.com"]]
    assert "Your turn." in offer.body


def test_offer_with_no_free_seat_says_so_and_changes_nothing(world: World, al: Client) -> None:
    circle = world.a.circle
    circle.capacity = 3
    circle.save(update_fields=["capacity"])
    wes = Membership.objects.create(
        circle=circle,
        user=make_verified("wes@example.com"),
        status=Membership.Status.WAITLISTED,
    )

    response = al.post(url(wes), {"decision": "offer"}, follow=True)

    assert admin_requests.NO_SEAT_TO_OFFER in messages_of(response)
    wes.refresh_from_db()
    assert wes.status == Membership.Status.WAITLISTED and wes.offer_expires_at is None


def test_offer_on_a_request_is_refused(world: World, al: Client) -> None:
    response = al.post(url(world.a.request), {"decision": "offer"})

    assert response.status_code == 200
    assert admin_requests.NOT_HIS_TURN in messages_of(response)
    world.a.request.refresh_from_db()
    assert world.a.request.status == Membership.Status.REQUESTED


@pytest.mark.parametrize(
    "data",
    [{}, {"decision": "delete"}, {"decision": "approve", "message": "x" * 501}],
    ids=["no decision", "unknown decision", "word too long"],
)
def test_bad_input_says_why_and_changes_nothing(world: World, al: Client, data: dict) -> None:
    response = al.post(url(world.a.request), data)

    assert response.status_code == 200
    assert b'class="errornote"' in response.content
    world.a.request.refresh_from_db()
    assert world.a.request.status == Membership.Status.REQUESTED


def test_answering_a_decided_request_again_changes_nothing(world: World, al: Client) -> None:
    member = Membership.objects.get(circle=world.a.circle, user=world.a.member)

    response = al.post(url(member), {"decision": "decline"})

    assert response.status_code == 200
    assert "This request is no longer waiting for a decision." in messages_of(response)
    member.refresh_from_db()
    assert member.status == Membership.Status.ACTIVE


# --- Where it is reached from ----------------------------------------------------------------


def test_the_memberships_list_links_each_waiting_row_to_its_page(world: World, al: Client) -> None:
    page = al.get("/admin/circles/membership/").content.decode()

    links = re.findall(r'href="(/admin/circles/membership/\d+/answer/)"', page)
    assert links == [url(world.a.request)]  # not the active rows, not another circle's


def test_the_at_risk_page_links_a_waiting_request_to_its_page(world: World, al: Client) -> None:
    page = al.get("/admin/circles/circle/at-risk/").content.decode()

    assert f'href="{url(world.a.request)}"' in page
    assert url(world.b.request) not in page


def test_a_co_facilitator_answers_too(world: World) -> None:
    co = make_verified("co@example.com", full_name="Cody Co", is_staff=True)
    co.groups.add(Group.objects.get(name="Facilitators"))
    join(co, world.a.circle, role=Membership.Role.CO_FACILITATOR)

    assert signed_in(co).get(url(world.a.request)).status_code == 200
