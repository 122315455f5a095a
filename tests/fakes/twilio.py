"""A local fake Twilio Messaging API for tests and benchmarks.

A real HTTP/1.1 server on 127.0.0.1 answering `POST /2010-04-01/Accounts/<sid>/
Messages.json` as Twilio does (HTTP Basic auth, form body, JSON answers and
Twilio's error shape), so the real `twilio` library is exercised end to end.

    def test_something(twilio_fake):          # settings point at the fake
        sms.get_backend().send(to="+15551234567", body="Hi")
        assert twilio_fake.messages[0]["body"] == "Hi"

Outside pytest (a benchmark starting child processes)::

    fake = FakeTwilio(latency=0.05)
    fake.start()
    env = {**os.environ, **fake.env()}
    ...
    fake.stop()

Only the standard library and pytest are imported: no Django settings needed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.http import KeepAliveHandler, ServedFake

ACCOUNT_SID = "AC" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

DEFAULT_ERRORS = {
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}


@dataclass
class Failure:
    status: int
    code: int
    message: str


def _failure(status: int, code: int | None, message: str | None) -> Failure:
    default_code, default_message = DEFAULT_ERRORS.get(status, (status, "Error"))
    return Failure(status, code or default_code, message or default_message)


def _now() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


class FakeTwilio(ServedFake):
    """The fake. `messages` holds what it accepted; `requests` every attempt."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        from_number: str = FROM_NUMBER,
        latency: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.latency = latency  # seconds slept per request, in that request's thread only
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self._gate.set()
        self._held = 0
        self.reset()

    # --- Life cycle -----------------------------------------------------------

    def handler_class(self) -> type[KeepAliveHandler]:
        return _handler_for(self)

    def stop(self) -> None:
        self._gate.set()  # let held requests finish (their clients may be gone)
        super().stop()

    def env(self) -> dict[str, str]:
        """Environment for a child process (manage.py, a benchmark) to use this fake."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
            "TWILIO_API_BASE": self.base_url,
            "SMS_BACKEND": "notifications.sms.TwilioBackend",
        }

    # --- Test controls --------------------------------------------------------

    def reset(self) -> None:
        """Forget what was sent and every configured failure."""
        with self._lock:
            # Accepted messages: {"sid", "to", "from", "body", "status_callback"}.
            self.messages: list[dict[str, Any]] = []
            # Every POST to Messages.json, with the HTTP status answered.
            self.requests: list[dict[str, Any]] = []
            self.connections = 0  # TCP connections accepted (keep-alive shows here)
            self._fail_next: list[Failure] = []
            self._fail_to: dict[str, Failure] = {}

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def fail_next(
        self, n: int = 1, *, status: int = 500, code: int | None = None, message: str | None = None
    ) -> None:
        """Refuse the next `n` authenticated requests with this Twilio error."""
        with self._lock:
            self._fail_next.extend(_failure(status, code, message) for _ in range(n))

    def fail_to(
        self, number: str, *, status: int = 400, code: int = 21211, message: str | None = None
    ) -> None:
        """Refuse every message to `number` (e.g. 21610: the recipient unsubscribed)."""
        with self._lock:
            self._fail_to[number] = _failure(status, code, message)

    def hold(self) -> None:
        """Block requests (after they arrive, before they are answered) until release()."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_until_held(self, n: int = 1, timeout: float = 5.0) -> bool:
        """True once `n` requests are waiting at the hold."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._held >= n:
                    return True
            time.sleep(0.005)
        return False

    # --- The API --------------------------------------------------------------

    def _authenticated(self, sid: str, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid == sid and hmac.compare_digest(
            password.encode(), self.auth_token.encode()
        )

    def handle(
        self, method: str, path: str, authorization: str, form: dict[str, str]
    ) -> tuple[int, Any]:
        match = MESSAGES_PATH.match(path)
        if method != "POST" or match is None:
            return _error(_failure(404, None, f"The requested resource {path} was not found"))
        attempt = {
            "to": form.get("To", ""),
            "from": form.get("From", ""),
            "body": form.get("Body", ""),
            "status_callback": form.get("StatusCallback"),
        }
        status, payload = self._create(match["sid"], authorization, attempt)
        with self._lock:
            self.requests.append({**attempt, "status": status})
        return status, payload

    def _create(self, sid: str, authorization: str, attempt: dict[str, Any]) -> tuple[int, Any]:
        if not self._authenticated(sid, authorization):
            return _error(_failure(401, None, None))
        with self._lock:
            self._held += 1
        self._gate.wait()
        with self._lock:
            self._held -= 1
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            failure = self._fail_to.get(attempt["to"])
            if failure is None and self._fail_next:
                failure = self._fail_next.pop(0)
        if failure is not None:
            return _error(failure)
        if not attempt["to"]:
            return _error(_failure(400, 21604, "A 'To' phone number is required."))
        if not attempt["from"]:
            return _error(_failure(400, 21603, "A 'From' phone number is required."))
        if not attempt["body"]:
            return _error(_failure(400, 21602, "Message body is required."))
        if not E164.match(attempt["to"]):
            return _error(_failure(400, 21211, f"Invalid 'To' Phone Number: {attempt['to']}"))
        message = {**attempt, "sid": "SM" + secrets.token_hex(16)}
        with self._lock:
            self.messages.append(message)
        return HTTPStatus.CREATED, self._resource(sid, message)

    @staticmethod
    def _resource(sid: str, message: dict[str, Any]) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{sid}/Messages/{message['sid']}"
        now = _now()
        return {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": message["body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message["from"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message["sid"],
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message["to"],
            "uri": f"{uri}.json",
        }


def _error(failure: Failure) -> tuple[int, dict[str, Any]]:
    return failure.status, {
        "code": failure.code,
        "message": failure.message,
        "more_info": f"https://www.twilio.com/docs/errors/{failure.code}",
        "status": failure.status,
    }


def _handler_for(fake: FakeTwilio) -> type[KeepAliveHandler]:
    class Handler(KeepAliveHandler):
        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake.connections += 1

        def do_GET(self) -> None:
            self._dispatch("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            self._dispatch("POST", {k: v[0] for k, v in parse_qs(body).items()})

        def _dispatch(self, method: str, form: dict[str, str]) -> None:
            path = urlsplit(self.path).path
            status, body = fake.handle(method, path, self.headers.get("Authorization", ""), form)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def twilio_fake(settings: Any) -> Iterator[FakeTwilio]:
    """A running fake Twilio, with the TWILIO_* settings and SMS_BACKEND pointing at it."""
    fake = FakeTwilio()
    fake.start()
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_FROM_NUMBER = fake.from_number
    settings.TWILIO_API_BASE = fake.base_url
    settings.SMS_BACKEND = "notifications.sms.TwilioBackend"
    try:
        yield fake
    finally:
        fake.stop()
