"""Message this circle: a facilitator writes to his circle by email and/or SMS.

Alder (run by Al) and Birch (run by Ben), from test_admin_access. Alder gets
men who each test one rule of who may receive a broadcast; delivery runs for
real (locmem email and SMS) when the POST's transaction "commits".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import broadcasts
from circles.admin import CHOOSE_ONE_CIRCLE
from circles.models import Circle, Membership
from circles.services import CircleError
from notifications import sms
from notifications.models import Notification, SmsOptOut
from tests.circles.conftest import join, make_verified
from tests.circles.test_admin_access import World, make_facilitator, make_world
from tests.conftest import committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

TEXT = "No meeting next week: the room is being painted. See you on the 14th."
AL_EMAIL, AL_PHONE = "fac-a@example.com", "+14155550100"


@dataclass
class Alder:
    circle: Circle
    member: User  # email only (the default preferences)
    texter: User  # email and SMS
    no_sms: User  # has a phone, but sms_broadcasts off
    stopped: User  # SMS on, but his number replied STOP
    no_email: User  # SMS only
    co_facilitator: User
    unverified: User
    waitlisted: User
    gone: User


def man(email: str, name: str, *, phone: str = "", sms_on: bool = False, **extra) -> User:
    return make_verified(email, full_name=name, phone=phone, sms_broadcasts=sms_on, **extra)


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


@pytest.fixture
def world(db: None) -> World:
    world = make_world()
    al = world.a.facilitator
    # Would get a text, were he a recipient.
    al.phone, al.phone_verified_at, al.sms_broadcasts = AL_PHONE, timezone.now(), True
    al.save(update_fields=["phone", "phone_verified_at", "sms_broadcasts"])
    return world


@pytest.fixture
def alder(world: World) -> Alder:
    circle = world.a.circle
    men = Alder(
        circle=circle,
        member=world.a.member,
        texter=man("texter@example.com", "Tex Ter", phone="+14155550101", sms_on=True),
        no_sms=man("nosms@example.com", "Nate Nosms", phone="+14155550102"),
        stopped=man("stop@example.com", "Stu Stop", phone="+14155550103", sms_on=True),
        no_email=man(
            "noemail@example.com",
            "Ned Noemail",
            phone="+14155550104",
            sms_on=True,
            email_broadcasts=False,
        ),
        co_facilitator=make_facilitator(
            "cofac@example.com", "Cole Cofac", circle, role=Membership.Role.CO_FACILITATOR
        ),
        unverified=make_user("unverified@example.com", full_name="Una Verified"),
        waitlisted=man("wait@example.com", "Walt Wait", phone="+14155550105", sms_on=True),
        gone=man("gone@example.com", "Gus Gone", phone="+14155550106", sms_on=True),
    )
    for user in (men.texter, men.no_sms, men.stopped, men.no_email, men.unverified):
        join(user, circle)
    Membership.objects.create(circle=circle, user=men.waitlisted, status="waitlisted")
    Membership.objects.create(
        circle=circle, user=men.gone, status=Membership.Status.LEFT, left_at=timezone.now()
    )
    SmsOptOut.objects.create(phone=men.stopped.phone)
    return men


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def url(circle: Circle) -> str:
    return f"/admin/circles/circle/{circle.pk}/message/"


def form(text: str = TEXT, channels: tuple[str, ...] = ("email", "sms"), **extra) -> dict:
    # A fresh form each time, as a facilitator opening the page would get.
    return {
        "title": "Next week",
        "text": text,
        "channels": list(channels),
        "key": uuid4().hex,
        **extra,
    }


def send(client: Client, circle: Circle, data: dict | None = None):
    with committed():
        return client.post(url(circle), data or form())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Sending ----------------------------------------------------------------------------


def test_a_facilitator_messages_his_circle_by_email_and_sms(
    world: World, alder: Alder, al: Client
) -> None:
    response = send(al, alder.circle)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/circles/circle/{alder.circle.pk}/change/"
    emailed = sorted(m.to[0] for m in mail.outbox)
    texted = sorted(t.to for t in sms.outbox)
    # Not: the unverified man, the waitlisted man, the man who left, nor Al himself.
    assert emailed == sorted(
        u.email
        for u in (alder.member, alder.texter, alder.no_sms, alder.stopped, alder.co_facilitator)
    )
    # Not: the man with SMS off, the man who replied STOP, Al.
    assert texted == sorted([alder.texter.phone, alder.no_email.phone])
    rows = Notification.objects.filter(kind="broadcast")
    assert rows.count() == 7
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert len(set(rows.values_list("subject_key", flat=True))) == 1
    assert not rows.filter(user__in=[world.a.facilitator, world.b.member, world.b.facilitator])


def test_the_message_says_what_he_wrote_and_who_wrote_it_but_not_his_email_or_phone(
    world: World, alder: Alder, al: Client
) -> None:
    send(al, alder.circle)

    email = next(m for m in mail.outbox if m.to == [alder.texter.email])
    text = next(t for t in sms.outbox if t.to == alder.texter.phone)
    assert email.subject == "Alder Circle: Next week"
    assert TEXT in email.body
    assert "Fac A." in email.body
    assert text.body == f"Alder Circle: {TEXT}"
    for body in (email.body, text.body):
        assert AL_EMAIL not in body
        assert AL_PHONE not in body


def test_sending_leaves_a_success_message_and_a_history_entry(
    world: World, alder: Alder, al: Client
) -> None:
    with committed():
        response = al.post(url(alder.circle), form(), follow=True)

    summary = "Messaged the circle: 7 messages queued by email and SMS."
    assert messages_of(response) == [f"Alder Circle: {summary}"]
    entry = LogEntry.objects.get(object_id=str(alder.circle.pk), action_flag=CHANGE)
    assert entry.user_id == world.a.facilitator.pk
    assert entry.get_change_message() == summary


def test_email_only_sends_no_text(alder: Alder, al: Client) -> None:
    send(al, alder.circle, form(channels=("email",)))

    assert len(mail.outbox) == 5
    assert sms.outbox == []
    assert not Notification.objects.filter(channel="sms").exists()


def test_each_broadcast_is_its_own_message(alder: Alder, al: Client) -> None:
    send(al, alder.circle, form(channels=("email",)))
    send(al, alder.circle, form(channels=("email",)))

    keys = Notification.objects.filter(user=alder.member).values_list("subject_key", flat=True)
    assert len(set(keys)) == 2
    assert len([m for m in mail.outbox if m.to == [alder.member.email]]) == 2


def test_a_circle_nobody_takes_messages_from_says_so(world: World, al: Client) -> None:
    member = world.a.member
    member.email_broadcasts = False
    member.save(update_fields=["email_broadcasts"])

    with committed():
        response = al.post(url(world.a.circle), form(channels=("email",)), follow=True)

    assert messages_of(response) == [
        "Alder Circle: Nobody in the circle takes messages by the chosen channels: "
        "nothing was sent."
    ]
    assert not Notification.objects.exists()


def test_the_form_page_and_the_links_to_it(world: World, alder: Alder, al: Client) -> None:
    page = al.get(url(alder.circle))
    change = al.get(f"/admin/circles/circle/{alder.circle.pk}/change/")
    action = al.post(
        "/admin/circles/circle/",
        {"action": "message_circle", "_selected_action": [alder.circle.pk]},
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert "To the 7 active members of Alder Circle" in html
    assert "0 of 3 messages" in html
    assert url(alder.circle) in change.content.decode()
    assert action.status_code == 302
    assert action["Location"] == url(alder.circle)


def test_a_superuser_may_message_any_circle(world: World) -> None:
    root = signed_in(world.superuser)

    response = send(root, world.b.circle)

    assert response.status_code == 302
    # He is not in the circle: its facilitator and member get it.
    assert sorted(m.to[0] for m in mail.outbox) == ["fac-b@example.com", "member-b@example.com"]
    assert "Root" in mail.outbox[0].body
    assert world.superuser.email not in mail.outbox[0].body


def test_the_action_wants_exactly_one_circle(world: World) -> None:
    root = signed_in(world.superuser)

    response = root.post(
        "/admin/circles/circle/",
        {"action": "message_circle", "_selected_action": [world.a.circle.pk, world.b.circle.pk]},
        follow=True,
    )

    assert messages_of(response) == [CHOOSE_ONE_CIRCLE]


# --- Who may --------------------------------------------------------------------------------


def test_another_circles_facilitator_cannot_message_it_by_url(world: World, alder: Alder) -> None:
    ben = signed_in(world.b.facilitator)

    page = ben.get(url(alder.circle))
    response = send(ben, alder.circle)

    assert page.status_code == 404
    assert response.status_code == 404
    assert not Notification.objects.exists()
    assert mail.outbox == [] and sms.outbox == []


def test_another_circles_facilitator_cannot_message_it_by_a_forged_action(
    world: World, alder: Alder
) -> None:
    ben = signed_in(world.b.facilitator)

    response = ben.post(
        "/admin/circles/circle/",
        {"action": "message_circle", "_selected_action": [alder.circle.pk]},
        follow=True,
    )

    assert messages_of(response) == [CHOOSE_ONE_CIRCLE]
    assert url(alder.circle) not in [r[0] for r in response.redirect_chain]
    assert not Notification.objects.exists()


def test_staff_without_a_circle_gets_404(world: World, alder: Alder) -> None:
    staff = make_verified("staff@example.com", full_name="Stan Staff", is_staff=True)

    response = send(signed_in(staff), alder.circle)

    assert response.status_code == 404
    assert not Notification.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "member", "outsider"])
def test_anonymous_and_non_staff_are_sent_to_the_admin_sign_in(
    world: World, alder: Alder, who: str
) -> None:
    client = {
        "anonymous": Client,
        "member": lambda: signed_in(world.a.member),
        "outsider": lambda: signed_in(world.outsider),
    }[who]()

    for response in (client.get(url(alder.circle)), send(client, alder.circle)):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert not Notification.objects.exists()


def test_the_service_refuses_a_sender_who_does_not_run_the_circle(
    world: World, alder: Alder
) -> None:
    for sender in (world.a.member, world.b.facilitator):
        with pytest.raises(CircleError) as raised:
            broadcasts.broadcast_send(
                circle=alder.circle, sender=sender, title="Hi", text=TEXT, channels=["email"]
            )
        assert raised.value.message == broadcasts.NOT_FACILITATOR
    assert not Notification.objects.exists()


# --- Rate limit -------------------------------------------------------------------------


def test_the_fourth_broadcast_in_a_day_is_refused(world: World, alder: Alder, al: Client) -> None:
    for _ in range(3):
        assert send(al, alder.circle).status_code == 302
    rows = Notification.objects.count()
    mail.outbox.clear()
    sms.outbox.clear()

    response = send(al, alder.circle, form(text="One more thing."))

    assert response.status_code == 200
    assert broadcasts.TOO_MANY in response.content.decode()
    assert "One more thing." in response.content.decode()  # his text is kept
    assert Notification.objects.count() == rows
    assert mail.outbox == [] and sms.outbox == []
    assert broadcasts.broadcasts_in_window(alder.circle) == 3


def test_the_limit_is_per_circle_and_per_24_hours(world: World, alder: Alder, al: Client) -> None:
    root = signed_in(world.superuser)
    for _ in range(3):
        send(al, alder.circle, form(channels=("email",)))
        send(root, world.b.circle, form(channels=("email",)))
    Notification.objects.filter(subject_key__startswith=f"broadcast:{alder.circle.pk}:").update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )

    again = send(al, alder.circle, form(channels=("email",)))
    refused = send(root, world.b.circle, form(channels=("email",)))

    assert again.status_code == 302
    assert refused.status_code == 200
    assert broadcasts.TOO_MANY in refused.content.decode()


# --- Bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (form(text=""), "text", "Write a message."),
        (form(text="   \n "), "text", "Write a message."),
        (form(channels=()), "channels", "Choose email, SMS or both."),
        (form(channels=("fax",)), "channels", "Select a valid choice."),
        (form(text="x" * 1001, channels=("email",)), "text", "at most 1000 characters"),
        (form(text="x" * 321), "text", "A text message can be at most 320 characters"),
        (form(channels=("email",), title=""), "title", "An email needs a title."),
        (form(title="t" * 121), "title", "at most 120 characters"),
    ],
)
def test_bad_input_shows_form_errors_and_sends_nothing(
    alder: Alder, al: Client, data: dict, field: str, error: str
) -> None:
    response = send(al, alder.circle, data)

    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors[field])
    assert not Notification.objects.exists()
    assert mail.outbox == [] and sms.outbox == []


def test_long_text_and_no_title_are_fine_where_they_do_not_matter(alder: Alder, al: Client) -> None:
    by_email = send(al, alder.circle, form(text="x" * 1000, channels=("email",)))
    by_sms = send(al, alder.circle, form(text="y" * 300, channels=("sms",), title=""))

    assert by_email.status_code == 302
    assert by_sms.status_code == 302
    assert len(mail.outbox) == 5
    assert len(sms.outbox) == 2


def test_submitting_the_same_form_twice_sends_once(world: World, alder: Alder, al: Client) -> None:
    data = form(channels=("email",))
    send(al, alder.circle, data)
    before = Notification.objects.filter(kind="broadcast").count()

    send(al, alder.circle, data)

    assert Notification.objects.filter(kind="broadcast").count() == before
    assert len({n.subject_key for n in Notification.objects.filter(kind="broadcast")}) == 1


def test_a_forged_key_is_a_form_error(world: World, alder: Alder, al: Client) -> None:
    response = send(al, alder.circle, form(key="../../not-hex"))

    assert response.status_code == 200
    assert not Notification.objects.filter(kind="broadcast").exists()
