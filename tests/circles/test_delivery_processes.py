"""Delivery across real processes: send_reminders on several hosts, db_worker, a crash.

Data is committed (transaction=True) so that child processes see it; vendors
are the local fakes, reached by the real twilio and sendgrid clients.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from circles.models import Circle
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.proc import ROOT, child_env, manage

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def fakes():
    twilio, sendgrid = FakeTwilio(), FakeSendGrid()
    twilio.start()
    sendgrid.start()
    yield twilio, sendgrid
    twilio.stop()
    sendgrid.stop()


def vendor_env(fakes, **extra: str) -> dict[str, str]:
    twilio, sendgrid = fakes
    return child_env(**twilio.env(), **sendgrid.env(), **extra)


def manage_async(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def texting_member(email: str, phone: str, circle: Circle) -> User:
    user = make_verified(email, phone=phone)
    user.sms_reminders = True
    user.save()
    join(user, circle)
    return user


def test_four_send_reminders_at_once_send_each_reminder_exactly_once(fakes) -> None:
    twilio, sendgrid = fakes
    twilio.latency = sendgrid.latency = 0.01
    circles = [make_circle() for _ in range(3)]
    for c, circle in enumerate(circles):
        for n in range(10):
            texting_member(f"m{c}-{n}@example.com", f"+1415555{c:01d}{n:03d}", circle)
        make_meeting(circle, in_days=0.9)  # an email reminder each
        make_meeting(circle, in_days=1 / 24)  # a text each
    env = vendor_env(fakes)

    procs = [
        manage_async("send_reminders", "--threads", "4", "--batch", "7", env=env) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    texts = Counter(m["to"] for m in twilio.messages)
    mails = Counter(m["personalizations"][0]["to"][0]["email"] for m in sendgrid.mails)
    assert len(texts) == 30 and set(texts.values()) == {1}
    assert len(mails) == 30 and set(mails.values()) == {1}
    assert Notification.objects.filter(status="sent").count() == 60
    sent = sum(int(out.split("Delivered: ")[1].split(" sent")[0]) for out, _ in outputs)
    assert sent == 60  # the work was shared, and each row counted once


def test_a_vendor_outage_is_retried_on_a_later_run_and_a_permanent_error_is_not(fakes) -> None:
    twilio, _ = fakes
    circle = make_circle()
    texting_member("ok@example.com", "+14155550001", circle)
    texting_member("bad@example.com", "+14155550002", circle)
    make_meeting(circle, in_days=1 / 24)
    twilio.fail_to("+14155550002", status=400, code=21211)
    twilio.fail_next(10, status=503)
    env = vendor_env(fakes)

    first = manage("send_reminders", env=env)
    assert first.returncode == 0, first.stderr
    assert twilio.messages == []
    statuses = dict(Notification.objects.values_list("user__email", "status"))
    assert statuses["ok@example.com"] == "failed_transient"

    # The outage is over and the backoff has passed.
    twilio.reset()
    Notification.objects.update(
        next_attempt_at=Notification.objects.get(user__email="ok@example.com").created_at
    )
    second = manage("send_reminders", env=env)

    assert second.returncode == 0, second.stderr
    assert [m["to"] for m in twilio.messages] == ["+14155550001"]
    statuses = dict(Notification.objects.values_list("user__email", "status"))
    assert statuses == {"ok@example.com": "sent", "bad@example.com": "failed_permanent"}
    bad = Notification.objects.get(user__email="bad@example.com")
    assert "21211" in bad.error
    assert bad.attempts == 1


def test_a_page_answers_without_the_vendor_and_db_worker_delivers(fakes, settings) -> None:
    _, sendgrid = fakes
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    circle = make_circle(name="Harbour", slug="harbour")
    facilitator = make_verified("fac@example.com")
    join(facilitator, circle, role="facilitator")
    dan = make_verified("dan@example.com")
    client = Client()
    client.force_login(dan)

    response = client.post("/circles/harbour/join/", {"accept": "on"})

    assert response.status_code == 302
    assert sendgrid.count == 0  # the page did not wait on the vendor
    # The facilitator is told of the request, and Dan gets its confirmation.
    rows = Notification.objects.filter(kind__in=["join_request", "join_request_received"])
    assert sorted(rows.values_list("kind", "status")) == [
        ("join_request", "pending"),
        ("join_request_received", "pending"),
    ]
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.count() == 2

    worker = manage(
        "db_worker",
        "--batch",
        "--no-startup-delay",
        env=vendor_env(fakes, TASKS_BACKEND="django_tasks_db.DatabaseBackend"),
    )

    assert worker.returncode == 0, worker.stderr
    assert sorted(m["personalizations"][0]["to"][0]["email"] for m in sendgrid.mails) == [
        "dan@example.com",
        "fac@example.com",
    ]
    for row in rows:
        assert row.status == "sent"
        assert row.provider_id


def test_a_crash_after_twilio_took_a_text_never_sends_it_again(fakes) -> None:
    twilio, _ = fakes
    circle = make_circle()
    texting_member("ben@example.com", "+14155550123", circle)
    make_meeting(circle, in_days=1 / 24)
    twilio.hold()  # Twilio takes the request and keeps the answer back
    env = vendor_env(fakes)

    proc = manage_async("send_reminders", env=env)
    assert twilio.wait_until_held(1, timeout=30)
    os.kill(proc.pid, signal.SIGKILL)  # the host dies mid-request
    proc.wait(timeout=10)
    twilio.release()
    deadline = time.monotonic() + 5
    while twilio.count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Notification.objects.get().status == "sending"

    Notification.objects.update(next_attempt_at=Notification.objects.get().created_at)
    call_command("send_reminders")
    again = manage("send_reminders", env=env)

    assert again.returncode == 0, again.stderr
    # Twilio took the text once (the answer went to a dead process) and was
    # never asked again: at most once.
    assert twilio.count == 1
    assert len(twilio.requests) == 1
    assert Notification.objects.get().status == "sending"
