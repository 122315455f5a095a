"""The day-before event reminder: email, and a text to men who chose texts; exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from events.models import Event, Registration
from events.reminders import queue_event_reminders
from notifications import sms
from notifications.models import Notification, SmsOptOut
from tests.circles.conftest import make_verified
from tests.events.conftest import make_event, register_directly
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.proc import child_env

pytestmark = pytest.mark.django_db(databases="__all__")

_n = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def man(*, texts: bool = False):
    n = next(_n)
    user = make_verified(
        f"r{n}@example.com", full_name=f"Rem {n}", phone=f"+1415556{n:04d}" if texts else ""
    )
    if texts:
        user.sms_reminders = True
        user.save(update_fields=["sms_reminders"])
    return user


def tomorrow(**fields) -> Event:
    starts = timezone.now() + timedelta(hours=20)
    return make_event(starts_at=starts, ends_at=starts + timedelta(hours=3), **fields)


def test_the_day_before_each_confirmed_man_gets_an_email_and_a_text_if_he_chose_texts() -> None:
    event = tomorrow(title="Open evening", time_zone="America/Los_Angeles")
    emailer = register_directly(event, man())
    texter = register_directly(event, man(texts=True))

    call_command("send_event_reminders")

    assert sorted(m.to[0] for m in mail.outbox) == sorted([emailer.user.email, texter.user.email])
    assert [t.to for t in sms.outbox] == [texter.user.phone]
    assert "Tomorrow: Open evening" in mail.outbox[0].subject
    assert "Los Angeles time" in mail.outbox[0].body
    row = Notification.objects.filter(kind="event_reminder").first()
    assert row.subject_key == f"event_registration:{row.user.event_registrations.get().pk}"


def test_only_confirmed_men_of_a_live_event_due_within_a_day_are_reminded() -> None:
    event = tomorrow()
    register_directly(event, man(), status=Registration.Status.WAITLISTED)
    register_directly(event, man(), status=Registration.Status.CANCELLED)
    register_directly(event, man(), status=Registration.Status.HELD)
    register_directly(tomorrow(status=Event.Status.CANCELLED), man())
    register_directly(tomorrow(status=Event.Status.DRAFT), man())
    later = timezone.now() + timedelta(hours=30)
    register_directly(make_event(starts_at=later, ends_at=later + timedelta(hours=1)), man())
    started = timezone.now() - timedelta(minutes=5)
    register_directly(make_event(starts_at=started, ends_at=started + timedelta(hours=3)), man())

    assert queue_event_reminders() == 0
    assert not Notification.objects.exists()


def test_a_text_never_goes_to_an_unproved_or_stopped_number() -> None:
    event = tomorrow()
    unproved = man(texts=True)
    unproved.phone_verified_at = None
    unproved.save(update_fields=["phone_verified_at"])
    stopped = man(texts=True)
    SmsOptOut.objects.create(phone=stopped.phone)
    register_directly(event, unproved)
    register_directly(event, stopped)

    queue_event_reminders()

    assert set(Notification.objects.values_list("channel", flat=True)) == {"email"}


def test_running_every_hour_reminds_each_man_once() -> None:
    event = tomorrow()
    register_directly(event, man(texts=True))
    now = timezone.now()

    first = queue_event_reminders(now=now)
    second = queue_event_reminders(now=now + timedelta(hours=1))
    call_command("send_event_reminders")
    call_command("send_event_reminders")

    assert (first, second) == (2, 0)
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1


def test_a_man_who_registers_on_the_day_is_reminded_on_the_next_run() -> None:
    event = tomorrow()
    register_directly(event, man())
    queue_event_reminders()
    register_directly(event, man())

    assert queue_event_reminders() == 1


# --- Several hosts at once ------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_four_send_event_reminders_at_once_send_each_reminder_exactly_once() -> None:
    from tests.circles.test_delivery_processes import manage_async

    twilio, sendgrid = FakeTwilio(), FakeSendGrid()
    twilio.start()
    sendgrid.start()
    try:
        twilio.latency = sendgrid.latency = 0.01
        for _ in range(2):
            event = tomorrow()
            for _ in range(12):
                register_directly(event, man(texts=True))
        env = child_env(**twilio.env(), **sendgrid.env())

        procs = [
            manage_async("send_event_reminders", "--threads", "4", "--batch", "5", env=env)
            for _ in range(4)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        twilio.stop()
        sendgrid.stop()

    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    texts = Counter(m["to"] for m in twilio.messages)
    mails = Counter(m["personalizations"][0]["to"][0]["email"] for m in sendgrid.mails)
    assert len(texts) == 24 and set(texts.values()) == {1}
    assert len(mails) == 24 and set(mails.values()) == {1}
    assert Notification.objects.filter(kind="event_reminder", status="sent").count() == 48
    sent = sum(int(out.split("Delivered: ")[1].split(" sent")[0]) for out, _ in outputs)
    assert sent == 48  # the work was shared, and each row counted once
