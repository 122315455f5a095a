"""What a newcomer is told and can do once he asks: a confirmation email saying by when he
hears back, a short introduction only the facilitators read, a way to withdraw, a full
circle that says "Join the waitlist" once. The facilitators' daily reminder of a request
waiting 3 days is in test_join_request_nudges.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import committed, force_signed_in, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

JOIN = "/circles/brooklyn-tuesday/join/"
DETAIL = "/circles/brooklyn-tuesday/"
WITHDRAW = "/circles/brooklyn-tuesday/withdraw/"
ACCEPT = {"accept": "on", "version": "1"}


@pytest.fixture
def dan(db: None) -> User:
    return make_verified("dan@example.com", full_name="Dan Newman")


def ask(user: User, circle: Circle, introduction: str = "") -> Membership:
    return services.membership_request(
        circle=circle, user=user, agreement_version=1, introduction=introduction
    )


# --- Asking: the confirmation and the introduction ---------------------------------------


def test_asking_with_an_introduction_confirms_by_email_and_says_by_when(
    circle: Circle, facilitator: User, dan: User
) -> None:
    client = signed_in(dan)
    with committed():
        response = client.post(JOIN, {**ACCEPT, "introduction": "  Quiet man, new in town.  "})

    assert response.status_code == 302 and response["Location"] == DETAIL
    membership = Membership.objects.get(user=dan, circle=circle)
    assert membership.status == Membership.Status.REQUESTED
    assert membership.introduction == "Quiet man, new in town."
    (confirmation,) = [m for m in mail.outbox if m.to == [dan.email]]
    assert confirmation.subject == "Your request to join Brooklyn Tuesday is sent"
    assert "usually answers within 3 days" in confirmation.body
    assert "withdraw" in confirmation.body
    # Only the facilitators read it, on the admin page: not in any email.
    assert all("Quiet man" not in m.body for m in mail.outbox)
    page = client.get(DETAIL).content.decode()
    assert "usually answers within 3 days" in page
    assert f'href="{WITHDRAW}"' in page
    assert "Quiet man" not in page


def test_the_introduction_is_optional(circle: Circle, dan: User) -> None:
    assert signed_in(dan).post(JOIN, ACCEPT).status_code == 302
    assert Membership.objects.get(user=dan).introduction == ""


def test_a_too_long_introduction_is_refused_and_nothing_is_asked(
    circle: Circle, facilitator: User, dan: User
) -> None:
    response = signed_in(dan).post(JOIN, {**ACCEPT, "introduction": "x" * 1001})

    assert response.status_code == 200
    assert "Please keep your introduction under 1000 characters." in response.content.decode()
    assert not Membership.objects.filter(user=dan).exists()
    assert not Notification.objects.exists()


def test_the_service_refuses_a_too_long_introduction_too(circle: Circle, dan: User) -> None:
    with pytest.raises(services.CircleError) as error:
        ask(dan, circle, "x" * 1001)
    assert error.value.message == services.INTRODUCTION_TOO_LONG
    assert not Membership.objects.filter(user=dan).exists()


def test_the_join_page_says_what_happens_next(circle: Circle, dan: User) -> None:
    page = signed_in(dan).get(JOIN).content.decode()

    assert "Ask to join Brooklyn Tuesday" in page
    assert "usually answers within 3 days" in page
    assert "Only the circle&#x27;s facilitators read this" in page
    assert 'maxlength="1000"' in page


# --- A full circle says one thing ---------------------------------------------------------


def fill(circle: Circle) -> None:
    circle.capacity = 1
    circle.save(update_fields=["capacity"])
    join(make_verified("sole@example.com"), circle)


def test_a_full_circles_button_says_join_the_waitlist(circle: Circle, dan: User) -> None:
    fill(circle)
    client = signed_in(dan)

    page = client.get(DETAIL).content.decode()
    assert ">Join the waitlist</a>" in page and ">Ask to join</a>" not in page
    join_page = client.get(JOIN).content.decode()
    assert "Join the waitlist of Brooklyn Tuesday" in join_page
    assert ">Join the waitlist</button>" in join_page


def test_a_man_on_the_waitlist_reads_his_place_and_nothing_else(circle: Circle, dan: User) -> None:
    fill(circle)
    join(make_verified("two@example.com"), circle)  # over capacity: he is 1st on the list
    ahead = Membership.objects.create(
        circle=circle,
        user=make_verified("ahead@example.com"),
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now() - timedelta(days=1),
    )
    assert ask(dan, circle).status == Membership.Status.WAITLISTED

    page = signed_in(dan).get(DETAIL).content.decode()

    assert "You are number 2 on the waitlist." in page
    assert "join its waitlist" not in page and "Join the waitlist" not in page
    assert ahead.pk  # the man ahead of him keeps his place


def test_an_open_circle_still_says_ask_to_join(circle: Circle, dan: User) -> None:
    page = signed_in(dan).get(DETAIL).content.decode()

    assert ">Ask to join</a>" in page and "waitlist" not in page


# --- Withdrawing ----------------------------------------------------------------------------


def test_withdrawing_asks_first_then_frees_his_seat_for_the_waitlist_only(
    circle: Circle, dan: User
) -> None:
    circle.capacity = 2
    circle.save(update_fields=["capacity"])
    join(make_verified("a@example.com"), circle)
    mine = ask(dan, circle)  # the last seat
    wes = ask(make_verified("wes@example.com"), circle)
    assert wes.status == Membership.Status.WAITLISTED
    others = list(Membership.objects.exclude(pk__in=[mine.pk, wes.pk]).order_by("pk").values())
    client = signed_in(dan)

    page = client.get(WITHDRAW)
    assert page.status_code == 200
    assert "Withdraw your request to join Brooklyn Tuesday?" in page.content.decode()
    mine.refresh_from_db()
    assert mine.status == Membership.Status.REQUESTED  # a GET writes nothing

    unconfirmed = client.post(WITHDRAW, {})
    assert unconfirmed.status_code == 200
    assert "Tick the box to confirm" in unconfirmed.content.decode()
    mine.refresh_from_db()
    assert mine.status == Membership.Status.REQUESTED

    with committed():
        response = client.post(WITHDRAW, {"confirm": "on"}, follow=True)

    assert "You withdrew your request to join Brooklyn Tuesday." in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == Membership.Status.LEFT
    wes.refresh_from_db()
    assert wes.has_offer  # his seat went to the first man waiting
    assert list(Membership.objects.exclude(pk__in=[mine.pk, wes.pk]).order_by("pk").values()) == (
        others
    )


def test_withdrawing_twice_is_harmless(circle: Circle, dan: User) -> None:
    membership = ask(dan, circle)
    client = signed_in(dan)
    client.post(WITHDRAW, {"confirm": "on"})
    membership.refresh_from_db()
    left_at = membership.left_at

    again = client.post(WITHDRAW, {"confirm": "on"}, follow=True)

    assert again.status_code == 200
    assert services.NOTHING_TO_WITHDRAW in again.content.decode()
    membership.refresh_from_db()
    assert membership.status == Membership.Status.LEFT and membership.left_at == left_at
    assert services.membership_withdraw(membership=membership) is False


def test_a_man_on_the_waitlist_can_leave_it(circle: Circle, dan: User) -> None:
    fill(circle)
    membership = ask(dan, circle)
    assert membership.status == Membership.Status.WAITLISTED

    signed_in(dan).post(WITHDRAW, {"confirm": "on"})

    membership.refresh_from_db()
    assert membership.status == Membership.Status.LEFT


def test_the_dashboard_links_each_waiting_request_to_its_withdrawal(
    circle: Circle, dan: User
) -> None:
    ask(dan, circle)

    page = signed_in(dan).get("/dashboard/").content.decode()

    assert f'href="{WITHDRAW}"' in page


@pytest.mark.parametrize("who", ["member", "facilitator", "outsider"])
def test_nobody_withdraws_another_mans_request(
    request, circle: Circle, dan: User, who: str
) -> None:
    membership = ask(dan, circle)
    fixture = {"member": "circle_member", "outsider": "other_member"}.get(who, who)
    user = request.getfixturevalue(fixture)
    before = list(Membership.objects.order_by("pk").values())

    response = force_signed_in(user).post(WITHDRAW, {"confirm": "on"}, follow=True)

    # Only his own request can be withdrawn, and he has none here.
    assert response.redirect_chain == [(DETAIL, 302)]
    assert services.NOTHING_TO_WITHDRAW in response.content.decode()
    assert list(Membership.objects.order_by("pk").values()) == before
    membership.refresh_from_db()
    assert membership.status == Membership.Status.REQUESTED


def test_anonymous_is_sent_to_sign_in_and_nothing_changes(circle: Circle, dan: User) -> None:
    membership = ask(dan, circle)

    for response in (Client().get(WITHDRAW), Client().post(WITHDRAW, {"confirm": "on"})):
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={WITHDRAW}"
    membership.refresh_from_db()
    assert membership.status == Membership.Status.REQUESTED


def test_an_unlisted_circle_is_404_to_a_stranger(dan: User) -> None:
    make_circle(slug="hidden", is_listed=False)

    assert signed_in(dan).get("/circles/hidden/withdraw/").status_code == 404
