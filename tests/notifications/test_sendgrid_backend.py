"""notifications.email_backends.SendGridBackend: the real sendgrid client against a local fake."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail

from notifications.email_backends import SendGridBackend
from notifications.transport import TransportError
from tests.fakes import sendgrid
from tests.fakes.sendgrid import FakeSendGrid
from tests.proc import child_env, manage

# Registers the fixture here. An assignment rather than a bare import, because ruff
# reports an imported fixture as redefined (F811) by every test that asks for it.
sendgrid_fake = sendgrid.sendgrid_fake

FROM = "Men's Circle <circles@example.org>"
BODY = "Your circle meets Tuesday at 7pm. Tom asked after you."


def _message(**kwargs: object) -> EmailMultiAlternatives:
    return EmailMultiAlternatives(
        kwargs.pop("subject", "Tuesday"),
        kwargs.pop("body", BODY),
        FROM,
        kwargs.pop("to", ["bob@example.com"]),
        **kwargs,
    )


def _refused(message: EmailMessage | None = None, **kwargs: object) -> TransportError:
    with pytest.raises(TransportError) as info:
        get_connection(**kwargs).send_messages([message or _message()])
    error = info.value
    # A message may be personal; an error message ends up in logs and the database.
    assert BODY not in str(error)
    assert sendgrid.API_KEY not in str(error)
    return error


def test_send_mail_goes_through_sendgrid(sendgrid_fake: FakeSendGrid) -> None:
    sent = send_mail("Tuesday", BODY, FROM, ["bob@example.com"])

    assert sent == 1
    [mail] = sendgrid_fake.mails
    assert mail["from"] == {"email": "circles@example.org", "name": "Men's Circle"}
    assert mail["personalizations"] == [{"to": [{"email": "bob@example.com"}]}]
    assert mail["subject"] == "Tuesday"
    assert mail["content"] == [{"type": "text/plain", "value": BODY}]


def test_html_alternative_copies_and_reply_to_are_sent(sendgrid_fake: FakeSendGrid) -> None:
    message = _message(
        to=["Bob Member <bob@example.com>"],
        cc=["dan@example.com"],
        bcc=["audit@example.org"],
        reply_to=["Frank <frank@example.com>"],
    )
    message.attach_alternative("<p>Your circle meets <b>Tuesday</b>.</p>", "text/html")

    assert message.send() == 1

    [mail] = sendgrid_fake.mails
    assert mail["personalizations"] == [
        {
            "to": [{"email": "bob@example.com", "name": "Bob Member"}],
            "cc": [{"email": "dan@example.com"}],
            "bcc": [{"email": "audit@example.org"}],
        }
    ]
    assert mail["reply_to"] == {"email": "frank@example.com", "name": "Frank"}
    assert mail["content"] == [
        {"type": "text/plain", "value": BODY},
        {"type": "text/html", "value": "<p>Your circle meets <b>Tuesday</b>.</p>"},
    ]


def test_the_provider_id_is_recorded_on_the_message(sendgrid_fake: FakeSendGrid) -> None:
    message = _message()

    message.send()

    assert message.provider_id == sendgrid_fake.mails[0]["message_id"]
    assert len(message.provider_id) == 22


def test_an_html_only_message_is_sent_as_html(sendgrid_fake: FakeSendGrid) -> None:
    message = _message(body="<p>Hello</p>")
    message.content_subtype = "html"

    message.send()

    assert sendgrid_fake.mails[0]["content"] == [{"type": "text/html", "value": "<p>Hello</p>"}]


def test_an_address_repeated_in_cc_is_sent_once(sendgrid_fake: FakeSendGrid) -> None:
    # SendGrid refuses a personalization that names an address twice.
    _message(to=["bob@example.com"], cc=["Bob@example.com"], bcc=["bob@example.com"]).send()

    assert sendgrid_fake.mails[0]["personalizations"] == [{"to": [{"email": "bob@example.com"}]}]


def test_attachments_are_sent(sendgrid_fake: FakeSendGrid) -> None:
    message = _message()
    message.attach("agenda.txt", "Check-in, then open floor.", "text/plain")

    message.send()

    [attachment] = sendgrid_fake.mails[0]["attachments"]
    assert attachment["filename"] == "agenda.txt"
    assert attachment["type"] == "text/plain"
    assert base64.b64decode(attachment["content"]) == b"Check-in, then open floor."


def test_every_message_is_sent_and_counted(sendgrid_fake: FakeSendGrid) -> None:
    messages = [_message(to=[f"man{n}@example.com"]) for n in range(3)]

    assert get_connection().send_messages(messages) == 3
    assert sendgrid_fake.count == 3
    assert [m.provider_id for m in messages] == [m["message_id"] for m in sendgrid_fake.mails]


def test_a_message_without_recipients_is_not_sent(sendgrid_fake: FakeSendGrid) -> None:
    assert get_connection().send_messages([_message(to=[])]) == 0
    assert sendgrid_fake.requests == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient(
    sendgrid_fake: FakeSendGrid, status: int
) -> None:
    sendgrid_fake.fail_next(status=status)

    error = _refused()

    assert error.permanent is False
    assert error.message.startswith(f"SendGrid {status}: ")


def test_a_refused_message_is_permanent_with_sendgrids_reason(
    sendgrid_fake: FakeSendGrid,
) -> None:
    sendgrid_fake.fail_next(
        status=400, message="Does not contain a valid address.", field="personalizations.0.to"
    )

    error = _refused()

    assert error.permanent is True
    assert error.message == (
        "SendGrid 400: Does not contain a valid address. (personalizations.0.to)"
    )


def test_a_message_sendgrid_finds_invalid_is_permanent(sendgrid_fake: FakeSendGrid) -> None:
    error = _refused(_message(body=""))  # SendGrid requires some content

    assert error.permanent is True
    assert "(content)" in error.message


def test_a_bad_api_key_is_permanent(sendgrid_fake: FakeSendGrid, settings) -> None:
    settings.SENDGRID_API_KEY = "SG.revoked-key"

    error = _refused()

    assert error.permanent is True
    assert error.message.startswith("SendGrid 401: The provided authorization grant is invalid")
    assert "revoked-key" not in error.message


def test_a_dead_host_is_transient(sendgrid_fake: FakeSendGrid, settings) -> None:
    settings.SENDGRID_API_HOST = "http://127.0.0.1:1"

    error = _refused()

    assert error.permanent is False
    assert error.message == "SendGrid unreachable: URLError"


def test_a_slow_sendgrid_times_out_as_transient(sendgrid_fake: FakeSendGrid) -> None:
    sendgrid_fake.latency = 1.0

    error = _refused(timeout=0.2)

    assert error.permanent is False
    assert "unreachable" in error.message


def test_fail_silently_swallows_the_error_and_sends_the_rest(
    sendgrid_fake: FakeSendGrid,
) -> None:
    sendgrid_fake.fail_to("bob@example.com", status=400)
    messages = [_message(to=["bob@example.com"]), _message(to=["dan@example.com"])]

    sent = get_connection(fail_silently=True).send_messages(messages)

    assert sent == 1
    assert [m["personalizations"][0]["to"] for m in sendgrid_fake.mails] == [
        [{"email": "dan@example.com"}]
    ]


def test_send_mail_fail_silently_returns_zero(sendgrid_fake: FakeSendGrid) -> None:
    sendgrid_fake.fail_next(status=500)

    assert send_mail("Tuesday", BODY, FROM, ["bob@example.com"], fail_silently=True) == 0


def test_the_backend_needs_an_api_key(settings) -> None:
    settings.SENDGRID_API_KEY = ""

    with pytest.raises(ImproperlyConfigured):
        SendGridBackend()


# --- Settings ------------------------------------------------------------------------


def _email_backend_setting(**env_vars: str) -> str:
    env = child_env()
    for name in ("SENDGRID_API_KEY", "SENDGRID_API_HOST", "EMAIL_BACKEND"):
        env.pop(name, None)
    env.update(env_vars)
    proc = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_settings_choose_sendgrid_when_its_key_is_set(django_db_setup) -> None:
    backend = _email_backend_setting(SENDGRID_API_KEY=sendgrid.API_KEY)

    assert backend == "notifications.email_backends.SendGridBackend"


def test_settings_fall_back_to_the_console_without_a_key(django_db_setup) -> None:
    assert _email_backend_setting() == "django.core.mail.backends.console.EmailBackend"
