"""notifications.sms: the real twilio client against a local fake Twilio; console and locmem."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications import sms
from notifications.transport import TransportError
from tests.fakes import twilio
from tests.fakes.twilio import FakeTwilio
from tests.proc import child_env, manage

# Registers the fixture here. An assignment rather than a bare import, because ruff
# reports an imported fixture as redefined (F811) by every test that asks for it.
twilio_fake = twilio.twilio_fake

TO = "+15551230001"
BODY = "Circle meets Tuesday 7pm at the library. Reply Y to RSVP."
CALLBACK = "https://circles.example.org/webhooks/twilio/status/"


@pytest.fixture
def outbox() -> Iterator[list[sms.SmsMessage]]:
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def _refused(**kwargs: object) -> TransportError:
    with pytest.raises(TransportError) as info:
        sms.get_backend(**kwargs).send(to=TO, body=BODY, status_callback=CALLBACK)
    error = info.value
    # A text may be personal; an error message ends up in logs and the database.
    assert BODY not in str(error)
    assert twilio.AUTH_TOKEN not in str(error)
    return error


# --- Twilio ---------------------------------------------------------------------


def test_twilio_backend_sends_and_returns_the_message_sid(twilio_fake: FakeTwilio) -> None:
    sid = sms.get_backend().send(to=TO, body=BODY, status_callback=CALLBACK)

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert twilio_fake.messages == [
        {
            "to": TO,
            "from": twilio.FROM_NUMBER,
            "body": BODY,
            "status_callback": CALLBACK,
            "sid": sid,
        }
    ]


def test_twilio_backend_sends_without_a_status_callback(twilio_fake: FakeTwilio) -> None:
    sms.get_backend().send(to=TO, body=BODY)

    assert twilio_fake.messages[0]["status_callback"] is None


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient(twilio_fake: FakeTwilio, status: int) -> None:
    twilio_fake.fail_next(status=status)

    error = _refused()

    assert error.permanent is False
    assert error.message.startswith(f"Twilio {status}")
    assert twilio_fake.count == 0


def test_a_transient_failure_passes_on_the_next_try(twilio_fake: FakeTwilio) -> None:
    twilio_fake.fail_next(status=500)
    _refused()

    sms.get_backend().send(to=TO, body=BODY)

    assert twilio_fake.count == 1


def test_an_invalid_number_is_permanent_and_names_the_code(twilio_fake: FakeTwilio) -> None:
    twilio_fake.fail_next(status=400, code=21211, message="The 'To' number is not valid.")

    error = _refused()

    assert error.permanent is True
    assert error.message == "Twilio 400 (21211): The 'To' number is not valid."


def test_a_malformed_number_is_refused_by_twilio_as_permanent(twilio_fake: FakeTwilio) -> None:
    with pytest.raises(TransportError) as info:
        sms.get_backend().send(to="555-1234", body=BODY)

    assert info.value.permanent is True
    assert "21211" in info.value.message


def test_an_unsubscribed_recipient_is_permanent(twilio_fake: FakeTwilio) -> None:
    twilio_fake.fail_to(
        TO, status=400, code=21610, message="Attempt to send to unsubscribed recipient"
    )

    error = _refused()

    assert error.permanent is True
    assert "21610" in error.message


def test_a_wrong_auth_token_is_permanent(twilio_fake: FakeTwilio, settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    error = _refused()

    assert error.permanent is True
    assert error.message == "Twilio 401 (20003): Authenticate"
    assert "not-the-token" not in error.message
    assert twilio_fake.count == 0


def test_a_stopped_twilio_is_transient(twilio_fake: FakeTwilio) -> None:
    sms.get_backend().send(to=TO, body=BODY)  # leaves a kept-alive connection behind
    twilio_fake.stop()

    error = _refused()

    assert error.permanent is False
    assert error.message.startswith("Twilio unreachable")


def test_a_dead_port_is_transient(twilio_fake: FakeTwilio, settings) -> None:
    settings.TWILIO_API_BASE = "http://127.0.0.1:1"

    error = _refused()

    assert error.permanent is False
    assert error.message == "Twilio unreachable: ConnectionError"


def test_a_slow_twilio_is_not_retried_because_it_may_have_sent_the_text(
    twilio_fake: FakeTwilio,
) -> None:
    twilio_fake.latency = 1.0

    error = _refused(timeout=0.2)

    # At most once: a text Twilio may have taken is never sent again.
    assert error.permanent is True
    assert "may have sent" in error.message
    assert "Timeout" in error.message


def test_concurrent_sends_each_arrive_exactly_once(twilio_fake: FakeTwilio) -> None:
    bodies = [f"Reminder {n}" for n in range(50)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        sids = list(pool.map(lambda body: sms.get_backend().send(to=TO, body=body), bodies))

    assert len(set(sids)) == 50
    received = {m["body"]: m["sid"] for m in twilio_fake.messages}
    assert len(twilio_fake.messages) == 50
    assert received == dict(zip(bodies, sids, strict=True))


def test_a_thread_reuses_its_connection(twilio_fake: FakeTwilio) -> None:
    for n in range(20):
        sms.get_backend().send(to=TO, body=f"Reminder {n}")

    assert twilio_fake.count == 20
    assert twilio_fake.connections == 1


def test_a_held_request_is_answered_once_released(twilio_fake: FakeTwilio) -> None:
    twilio_fake.hold()
    sids: list[str] = []
    sender = threading.Thread(target=lambda: sids.append(sms.get_backend().send(to=TO, body=BODY)))
    sender.start()

    assert twilio_fake.wait_until_held(1)
    assert twilio_fake.count == 0
    twilio_fake.release()
    sender.join(timeout=5)

    assert sids == [twilio_fake.messages[0]["sid"]]


def test_twilio_backend_refuses_to_start_half_configured(settings) -> None:
    settings.TWILIO_ACCOUNT_SID = twilio.ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_FROM_NUMBER = twilio.FROM_NUMBER

    with pytest.raises(ImproperlyConfigured):
        sms.get_backend("notifications.sms.TwilioBackend")


# --- Console and locmem ------------------------------------------------------------


def test_console_backend_prints_the_text(capsys) -> None:
    message_id = sms.ConsoleBackend().send(to=TO, body=BODY)

    assert capsys.readouterr().out == f"SMS to {TO}: {BODY}\n"
    assert re.fullmatch(r"console-[0-9a-f-]{36}", message_id)


def test_console_backend_writes_to_a_given_stream() -> None:
    stream = io.StringIO()

    sms.ConsoleBackend(stream=stream).send(to=TO, body="Hi")

    assert stream.getvalue() == f"SMS to {TO}: Hi\n"


def test_locmem_backend_collects_texts(outbox: list[sms.SmsMessage]) -> None:
    first = sms.LocmemBackend().send(to=TO, body="One", status_callback=CALLBACK)
    second = sms.LocmemBackend().send(to="+15551230002", body="Two")

    assert outbox == [
        sms.SmsMessage(to=TO, body="One", status_callback=CALLBACK, id=first),
        sms.SmsMessage(to="+15551230002", body="Two", status_callback=None, id=second),
    ]
    assert first != second
    assert first.startswith("locmem-")


@pytest.mark.parametrize(
    "path, cls",
    [
        ("notifications.sms.ConsoleBackend", sms.ConsoleBackend),
        ("notifications.sms.LocmemBackend", sms.LocmemBackend),
    ],
)
def test_get_backend_follows_the_sms_backend_setting(settings, path: str, cls: type) -> None:
    settings.SMS_BACKEND = path

    assert type(sms.get_backend()) is cls


def test_get_backend_is_twilio_with_the_fake(twilio_fake: FakeTwilio) -> None:
    assert type(sms.get_backend()) is sms.TwilioBackend


# --- Settings ------------------------------------------------------------------------

TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": twilio.ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": twilio.AUTH_TOKEN,
    "TWILIO_FROM_NUMBER": twilio.FROM_NUMBER,
}


def _sms_backend_setting(**env_vars: str) -> str:
    env = child_env()
    for name in (*TWILIO_ENV, "SMS_BACKEND", "TWILIO_API_BASE"):
        env.pop(name, None)
    env.update(env_vars)
    proc = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SMS_BACKEND)",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_settings_choose_twilio_when_fully_configured(django_db_setup) -> None:
    assert _sms_backend_setting(**TWILIO_ENV) == "notifications.sms.TwilioBackend"


@pytest.mark.parametrize("missing", list(TWILIO_ENV))
def test_settings_fall_back_to_the_console_without_all_of_twilio(
    django_db_setup, missing: str
) -> None:
    env = {name: value for name, value in TWILIO_ENV.items() if name != missing}

    assert _sms_backend_setting(**env) == "notifications.sms.ConsoleBackend"


def test_sms_backend_can_be_chosen_from_the_environment(django_db_setup) -> None:
    backend = _sms_backend_setting(**TWILIO_ENV, SMS_BACKEND="notifications.sms.LocmemBackend")

    assert backend == "notifications.sms.LocmemBackend"
