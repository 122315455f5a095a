"""SMS, with backends chosen by settings like Django's EMAIL_BACKEND.

`settings.SMS_BACKEND` names the class: `TwilioBackend` in production,
`ConsoleBackend` when Twilio is not configured, `LocmemBackend` in tests.
Callers only ever do::

    message_id = sms.get_backend().send(to="+15551234567", body="...")

and handle `notifications.transport.TransportError`.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import TextIO

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from notifications.transport import TransportError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds per HTTP request to the vendor


class BaseSmsBackend:
    """One way of sending texts. Instances are cheap; make one per use."""

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> str:
        """Send one text to an E.164 number; return the provider's message id.

        `status_callback` is a URL the provider calls with delivery updates.
        Raises `TransportError` when the provider does not take the message.
        """
        raise NotImplementedError


def get_backend(backend: str | None = None, **kwargs: object) -> BaseSmsBackend:
    """The backend named by `backend` or `settings.SMS_BACKEND`, ready to send."""
    return import_string(backend or settings.SMS_BACKEND)(**kwargs)


CONSOLE_BACKEND = "notifications.sms.ConsoleBackend"


def is_available() -> bool:
    """Whether texts reach anyone, so pages may offer them.

    The console backend prints texts, which stands in for Twilio in development
    (DEBUG on, the embedded default); in production it means Twilio is not set
    up, and pages say nothing about texts.
    """
    return settings.SMS_BACKEND != CONSOLE_BACKEND or settings.DEBUG


class ConsoleBackend(BaseSmsBackend):
    """Prints texts instead of sending them: the embedded default."""

    _lock = threading.Lock()

    def __init__(self, *, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> str:
        stream = self.stream or sys.stdout  # looked up late, so capture works
        with self._lock:
            stream.write(f"SMS to {to}: {body}\n")
            stream.flush()
        return f"console-{uuid.uuid4()}"


@dataclass
class SmsMessage:
    to: str
    body: str
    status_callback: str | None
    id: str


# What LocmemBackend sent, oldest first; tests clear it.
outbox: list[SmsMessage] = []
_locmem_lock = threading.Lock()
_locmem_ids = itertools.count(1)


class LocmemBackend(BaseSmsBackend):
    """Keeps texts in `notifications.sms.outbox`, like Django's locmem email backend."""

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> str:
        with _locmem_lock:
            message_id = f"locmem-{next(_locmem_ids)}"
            outbox.append(SmsMessage(to, body, status_callback, message_id))
        return message_id


# One Twilio client per thread and configuration. A client must not be shared
# between threads: TwilioHttpClient keeps the last response on itself and
# returns it from there, so two threads could swap answers. Per thread, its
# requests.Session is reused, so a thread pool sending thousands of texts keeps
# its connections alive instead of opening one per message.
_clients = threading.local()


def _twilio_client(account_sid: str, auth_token: str, api_base: str, timeout: float) -> Client:
    key = (account_sid, auth_token, api_base, timeout)
    if getattr(_clients, "key", None) != key:
        client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base:  # a local fake in tests; Twilio's own host otherwise
            client.api.base_url = api_base
        _clients.key, _clients.client = key, client
    return _clients.client


class TwilioBackend(BaseSmsBackend):
    """Sends through Twilio's Programmable Messaging API (the `twilio` library).

    Texts are at most once (notifications.delivery): an answer that never came (a read
    timeout, a connection dropped mid-request) may mean Twilio took the text,
    so it is reported as permanent and not retried. Only a connection that
    was never made is transient.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.auth_token = settings.TWILIO_AUTH_TOKEN
        self.from_number = settings.TWILIO_FROM_NUMBER
        self.api_base = settings.TWILIO_API_BASE.rstrip("/")
        self.timeout = timeout
        if not (self.account_sid and self.auth_token and self.from_number):
            raise ImproperlyConfigured(
                "TwilioBackend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER."
            )

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> str:
        client = _twilio_client(self.account_sid, self.auth_token, self.api_base, self.timeout)
        try:
            message = client.messages.create(
                to=to, from_=self.from_number, body=body, status_callback=status_callback
            )
        except TwilioRestException as error:
            raise _rest_error(error.status, error.code, _vendor_message(error.msg)) from error
        except TwilioServiceException as error:
            raise _rest_error(error.status, error.code, error.detail or error.title) from error
        except requests.ConnectTimeout as error:
            raise TransportError("Twilio unreachable: ConnectTimeout", permanent=False) from error
        except (requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            raise TransportError(
                f"Twilio did not answer ({type(error).__name__}); it may have sent the text, "
                "so it is not retried",
                permanent=True,
            ) from error
        except (requests.RequestException, TwilioException) as error:
            # Connection refused, DNS: nothing reached Twilio. The exception text
            # holds only the URL, never the form body or the credentials.
            raise TransportError(
                f"Twilio unreachable: {type(error).__name__}", permanent=False
            ) from error
        except ValueError as error:  # a 2xx whose body is not JSON (a proxy in the way)
            raise TransportError("Twilio sent an unreadable answer", permanent=False) from error
        return message.sid


def _vendor_message(msg: str) -> str:
    # twilio prefixes the API's own message with what it was doing.
    return msg.removeprefix("Unable to create record: ")


def _rest_error(status: int, code: int | None, detail: str) -> TransportError:
    # 429 and 5xx may pass; any other 4xx (bad number, unsubscribed recipient,
    # bad credentials) will fail the same way again.
    transient = status >= 500 or status == 429
    label = f"Twilio {status} ({code})" if code and code != status else f"Twilio {status}"
    return TransportError(f"{label}: {detail[:200]}", permanent=not transient)


def signature_is_valid(url: str, params: dict[str, str], signature: str) -> bool:
    """Whether a webhook request really comes from Twilio (X-Twilio-Signature).

    Checked with our auth token against the public URL Twilio was given.
    Without a token configured nothing is valid.
    """
    if not settings.TWILIO_AUTH_TOKEN or not signature:
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)


def twiml_reply(text: str) -> str:
    """A TwiML answer that texts `text` back (an empty answer sends nothing)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
