"""Texts go only to verified numbers, and only a verified number speaks for an account.

Every way a text leaves (an event message, a broadcast, the reminders' bulk
path, delivery of a row queued earlier) and the inbound webhook. STOP is
about the number, not an account: it works from any number.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts import phones
from accounts.models import User
from circles import messages, services
from circles.models import RSVP, Circle, Meeting
from circles.reminders import queue_reminders
from notifications import delivery, inbound, sms
from notifications.models import Notification, SmsOptOut
from notifications.services import may_send
from tests.circles.conftest import join, make_meeting, make_verified
from tests.circles.test_sms_webhooks import reply_of, text_in
from tests.conftest import committed

pytestmark = pytest.mark.django_db(databases="__all__")

PHONE = "+14155550123"  # circle_member's


@pytest.fixture(autouse=True)
def _twilio(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"  # the webhook checks signatures with it
    mail.outbox.clear()
    sms.outbox.clear()


def texts_on(user: User, *, proved: bool) -> User:
    User.objects.filter(pk=user.pk).update(
        sms_reminders=True,
        sms_updates=True,
        sms_broadcasts=True,
        phone_verified_at=timezone.now() if proved else None,
    )
    user.refresh_from_db()
    return user


@pytest.mark.parametrize("proved", [True, False], ids=["verified", "unverified"])
def test_an_event_text_goes_only_to_a_verified_number(
    circle: Circle, circle_member: User, proved: bool
) -> None:
    texts_on(circle_member, proved=proved)

    with committed():
        messages.meeting_cancelled(make_meeting(circle, in_days=2))

    assert [m.to for m in mail.outbox] == [[circle_member.email]]  # email either way
    assert [t.to for t in sms.outbox] == ([PHONE] if proved else [])
    assert may_send(circle_member, "broadcast", "sms") is proved


@pytest.mark.parametrize("proved", [True, False], ids=["verified", "unverified"])
def test_reminder_texts_in_bulk_go_only_to_verified_numbers(
    circle: Circle, circle_member: User, proved: bool
) -> None:
    texts_on(circle_member, proved=proved)
    make_meeting(circle, in_days=1 / 24)

    queue_reminders()
    call_command("send_reminders")

    queued = Notification.objects.filter(kind="reminder_2h", channel="sms").count()
    assert queued == (1 if proved else 0)
    assert [t.to for t in sms.outbox] == ([PHONE] if proved else [])


def test_a_text_queued_before_the_number_changed_is_not_sent(
    circle: Circle, circle_member: User
) -> None:
    texts_on(circle_member, proved=True)
    messages.meeting_cancelled(make_meeting(circle, in_days=2))  # queued, not yet delivered
    circle_member.phone = "+14155550188"
    circle_member.save()

    delivery.deliver_due()

    row = Notification.objects.get(kind="meeting_cancelled", channel="sms")
    assert row.status == Notification.Status.SKIPPED
    assert sms.outbox == []


def test_a_text_queued_before_another_account_proved_the_number_is_not_sent(
    circle: Circle, circle_member: User
) -> None:
    texts_on(circle_member, proved=True)
    messages.meeting_cancelled(make_meeting(circle, in_days=2))
    newcomer = make_verified("newcomer@example.com")
    newcomer.phone = PHONE
    newcomer.save()
    challenge = phones.phone_code_send(user=newcomer, client="127.0.0.1")
    phones.phone_verify(user=newcomer, code=phones.code_for(challenge.pk, PHONE))
    delivered_before = len(sms.outbox)

    delivery.deliver_due()

    row = Notification.objects.get(kind="meeting_cancelled", channel="sms")
    assert row.status == Notification.Status.SKIPPED
    assert [t.body for t in sms.outbox[delivered_before:] if "cancelled" in t.body.lower()] == []


# --- Inbound ---------------------------------------------------------------------------------


@pytest.fixture
def next_meeting(circle: Circle, circle_member: User) -> Meeting:
    return make_meeting(circle, in_days=2)


def test_yes_from_an_unverified_number_answers_for_nobody(
    settings, circle_member: User, next_meeting: Meeting
) -> None:
    texts_on(circle_member, proved=False)

    reply = reply_of(text_in(PHONE, "YES"))

    assert reply == inbound.UNKNOWN.format(site=settings.SITE_URL)
    assert circle_member.email not in reply and "Ben" not in reply
    assert not RSVP.objects.exists()


def test_stop_from_an_unverified_number_still_opts_the_number_out(
    circle_member: User, next_meeting: Meeting
) -> None:
    texts_on(circle_member, proved=False)

    assert reply_of(text_in(PHONE, "STOP")) == inbound.STOPPED
    assert list(SmsOptOut.objects.values_list("phone", flat=True)) == [PHONE]
    assert not RSVP.objects.exists()
    assert reply_of(text_in(PHONE, "START")) == inbound.STARTED
    assert not SmsOptOut.objects.exists()


def test_a_reply_speaks_for_the_account_that_proved_the_number_not_the_oldest(
    circle: Circle, circle_member: User, next_meeting: Meeting
) -> None:
    # circle_member (the older account) has the number on file, unproved; a
    # newer account in the same circle proved it.
    texts_on(circle_member, proved=False)
    newer = make_verified("newer@example.com", full_name="Nate Newer")
    join(newer, circle)
    services.agreement_accept(user=newer, circle=circle, version=1)
    User.objects.filter(pk=newer.pk).update(phone=PHONE, phone_verified_at=timezone.now())
    assert circle_member.pk < newer.pk

    reply_of(text_in(PHONE, "YES"))

    rsvp = RSVP.objects.get()
    assert (rsvp.user, rsvp.meeting, rsvp.response) == (newer, next_meeting, "yes")
