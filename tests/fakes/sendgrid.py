"""A local fake SendGrid v3 Mail Send API for tests and benchmarks.

A real HTTP server on 127.0.0.1 answering `POST /v3/mail/send` as SendGrid
does (Bearer auth, JSON body, 202 with an `X-Message-Id` header, errors as
`{"errors": [{"message", "field", "help"}]}`), so the real `sendgrid` library
is exercised end to end.

    def test_something(sendgrid_fake):        # settings point at the fake
        send_mail("Hi", "Body", None, ["bob@example.com"])
        assert sendgrid_fake.mails[0]["subject"] == "Hi"

Outside pytest: `fake = FakeSendGrid(); fake.start(); env.update(fake.env())`.
Only the standard library and pytest are imported: no Django settings needed.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fakes.http import KeepAliveHandler, ServedFake

API_KEY = "SG.test-key"
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

DEFAULT_ERRORS = {
    400: ("Bad Request", None),
    401: ("The provided authorization grant is invalid, expired, or revoked", None),
    403: ("access forbidden", None),
    413: ("Payload Too Large", None),
    429: ("too many requests", None),
    500: ("An internal server error occurred.", None),
    503: ("Service Unavailable", None),
}


@dataclass
class Failure:
    status: int
    message: str
    field: str | None


def _failure(status: int, message: str | None, field: str | None) -> Failure:
    default_message, default_field = DEFAULT_ERRORS.get(status, ("Error", None))
    return Failure(status, message or default_message, field or default_field)


class FakeSendGrid(ServedFake):
    """The fake. `mails` holds the JSON payloads it accepted; `requests` every attempt."""

    def __init__(self, *, api_key: str = API_KEY, latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency  # seconds slept per request, in that request's thread only
        self._lock = threading.Lock()
        self.reset()

    # --- Life cycle -----------------------------------------------------------

    def handler_class(self) -> type[KeepAliveHandler]:
        return _handler_for(self)

    def env(self) -> dict[str, str]:
        """Environment for a child process (manage.py, a benchmark) to use this fake."""
        return {
            "SENDGRID_API_KEY": self.api_key,
            "SENDGRID_API_HOST": self.base_url,
            "EMAIL_BACKEND": "notifications.email_backends.SendGridBackend",
        }

    # --- Test controls --------------------------------------------------------

    def reset(self) -> None:
        """Forget what was sent and every configured failure."""
        with self._lock:
            # Accepted payloads, each with the "message_id" the fake answered.
            self.mails: list[dict[str, Any]] = []
            # Every POST to /v3/mail/send: {"payload", "status"}.
            self.requests: list[dict[str, Any]] = []
            self._fail_next: list[Failure] = []
            self._fail_to: dict[str, Failure] = {}

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.mails)

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        message: str | None = None,
        field: str | None = None,
    ) -> None:
        """Refuse the next `n` authenticated requests with this SendGrid error."""
        with self._lock:
            self._fail_next.extend(_failure(status, message, field) for _ in range(n))

    def fail_to(
        self, address: str, *, status: int = 400, message: str | None = None, field: str = "to"
    ) -> None:
        """Refuse every mail with `address` among its recipients."""
        with self._lock:
            self._fail_to[address.lower()] = _failure(status, message, field)

    # --- The API --------------------------------------------------------------

    def handle(
        self, method: str, path: str, authorization: str, body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if path != "/v3/mail/send":
            return _error(_failure(404, "Not Found", None))
        if method != "POST":
            return _error(_failure(405, "Method Not Allowed", None))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        status, headers, answer = self._send(authorization, payload)
        with self._lock:
            self.requests.append({"payload": payload, "status": status})
        return status, headers, answer

    def _send(self, authorization: str, payload: Any) -> tuple[int, dict[str, str], Any]:
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _error(_failure(401, None, None))
        if self.latency:
            time.sleep(self.latency)
        if not isinstance(payload, dict):
            return _error(_failure(400, "Bad Request", None))
        with self._lock:
            failure = next(
                (self._fail_to[a] for a in _recipients(payload) if a in self._fail_to), None
            )
            if failure is None and self._fail_next:
                failure = self._fail_next.pop(0)
        if failure is None:
            failure = _invalid(payload)
        if failure is not None:
            return _error(failure)
        message_id = secrets.token_urlsafe(16)[:22]
        with self._lock:
            self.mails.append({**payload, "message_id": message_id})
        return HTTPStatus.ACCEPTED, {"X-Message-Id": message_id}, None


def _recipients(payload: dict[str, Any]) -> list[str]:
    return [
        recipient.get("email", "").lower()
        for personalization in payload.get("personalizations") or []
        for kind in ("to", "cc", "bcc")
        for recipient in personalization.get(kind) or []
    ]


def _invalid(payload: dict[str, Any]) -> Failure | None:
    """The first of SendGrid's own validation errors that applies, if any."""
    personalizations = payload.get("personalizations") or []
    if not personalizations or not all(p.get("to") for p in personalizations):
        return Failure(
            400,
            "The to array is required for all personalization objects, and must have at "
            "least one email object with a valid email address.",
            "personalizations.0.to",
        )
    recipients = _recipients(payload)
    if len(recipients) != len(set(recipients)):
        return Failure(
            400,
            "Each email address in the personalization block should be unique between to, "
            "cc, and bcc.",
            "personalizations.0",
        )
    if "@" not in (payload.get("from") or {}).get("email", ""):
        return Failure(400, "The from object must be provided for every email send.", "from.email")
    if not payload.get("subject") and not all(p.get("subject") for p in personalizations):
        return Failure(400, "The subject is required.", "subject")
    if not payload.get("template_id") and not any(
        c.get("value") for c in payload.get("content") or []
    ):
        return Failure(
            400,
            "Unless a valid template_id is provided, the content parameter is required.",
            "content",
        )
    return None


def _error(failure: Failure) -> tuple[int, dict[str, str], Any]:
    return (
        failure.status,
        {},
        {"errors": [{"message": failure.message, "field": failure.field, "help": HELP}]},
    )


def _handler_for(fake: FakeSendGrid) -> type[KeepAliveHandler]:
    class Handler(KeepAliveHandler):
        def do_GET(self) -> None:
            self._dispatch("GET", b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._dispatch("POST", self.rfile.read(length))

        def _dispatch(self, method: str, body: bytes) -> None:
            path = urlsplit(self.path).path
            status, headers, answer = fake.handle(
                method, path, self.headers.get("Authorization", ""), body
            )
            payload = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def sendgrid_fake(settings: Any) -> Iterator[FakeSendGrid]:
    """A running fake SendGrid, with the SENDGRID_* settings and EMAIL_BACKEND pointing at it."""
    fake = FakeSendGrid()
    fake.start()
    settings.SENDGRID_API_KEY = fake.api_key
    settings.SENDGRID_API_HOST = fake.base_url
    settings.EMAIL_BACKEND = "notifications.email_backends.SendGridBackend"
    try:
        yield fake
    finally:
        fake.stop()
