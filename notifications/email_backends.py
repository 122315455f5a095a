"""Email backends of our own; Django's console and locmem backends cover the rest.

`SendGridBackend` is chosen by settings when `SENDGRID_API_KEY` is set::

    EMAIL_BACKEND = "notifications.email_backends.SendGridBackend"

It sends each message with one call to SendGrid's v3 Mail Send API and records
SendGrid's message id on the message as `message.provider_id`, which delivery
webhooks refer to. A message SendGrid refuses raises `TransportError`, unless
the backend was opened with `fail_silently`.
"""

from __future__ import annotations

import base64
import http.client
import logging
from collections.abc import Sequence
from email.mime.base import MIMEBase
from email.utils import parseaddr

import sendgrid
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from python_http_client.exceptions import HTTPError
from sendgrid.helpers.mail import (
    Attachment,
    Bcc,
    Cc,
    Content,
    From,
    Mail,
    ReplyTo,
    To,
)

from notifications.transport import TransportError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds per HTTP request to the vendor


class SendGridBackend(BaseEmailBackend):
    """Sends through SendGrid's v3 API with the `sendgrid` library.

    The library speaks HTTP through urllib, one connection per message (no
    keep-alive); `timeout` bounds each call. A timeout or dropped connection is
    reported as transient, although SendGrid may have taken the message.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        api_key: str | None = None,
        host: str | None = None,
        timeout: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        api_key = api_key or settings.SENDGRID_API_KEY
        if not api_key:
            raise ImproperlyConfigured("SendGridBackend needs SENDGRID_API_KEY.")
        self.client = sendgrid.SendGridAPIClient(
            api_key, host=(host or settings.SENDGRID_API_HOST).rstrip("/")
        )
        # python_http_client passes its client's timeout down to every
        # request it builds (client.mail.send...), so set it once here.
        self.client.client.timeout = timeout or DEFAULT_TIMEOUT

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                message.provider_id = self._send(message)  # type: ignore[attr-defined]
            except TransportError as error:
                if not self.fail_silently:
                    raise
                # The error names the status and SendGrid's reason, never the body.
                logger.warning("SendGrid did not take an email: %s", error.message)
            else:
                sent += 1
        return sent

    def _send(self, message: EmailMessage) -> str:
        mail = _to_sendgrid(message)
        try:
            response = self.client.send(mail)
        except HTTPError as error:
            raise _http_error(error) from error
        except (OSError, http.client.HTTPException) as error:
            # Connection refused or reset, DNS, timeouts (urllib's URLError
            # and socket timeouts are OSErrors).
            raise TransportError(
                f"SendGrid unreachable: {type(error).__name__}", permanent=False
            ) from error
        return response.headers.get("X-Message-Id", "") or ""


def _to_sendgrid(message: EmailMessage) -> Mail:
    """The SendGrid request for a Django EmailMessage."""
    try:
        mail = Mail(from_email=From(*_address(message.from_email)), subject=message.subject)
        # SendGrid refuses an address that appears twice among to, cc and bcc.
        seen: set[str] = set()
        for kind, add, addresses in (
            (To, mail.add_to, message.to),
            (Cc, mail.add_cc, message.cc),
            (Bcc, mail.add_bcc, message.bcc),
        ):
            for address in addresses:
                email, name = _address(address)
                if email.lower() not in seen:
                    seen.add(email.lower())
                    add(kind(email, name))
        if message.reply_to:
            mail.reply_to = ReplyTo(*_address(message.reply_to[0]))
        body_type = "text/html" if message.content_subtype == "html" else "text/plain"
        if message.body:
            mail.add_content(Content(body_type, message.body))
        for alternative in getattr(message, "alternatives", []):
            content, mimetype = alternative
            if mimetype == "text/html" and body_type != "text/html":
                mail.add_content(Content("text/html", content))
        for attachment in message.attachments:
            mail.add_attachment(_attachment(attachment))
    except TransportError:
        raise
    except Exception as error:  # the library refused to build it (e.g. a bad address)
        raise TransportError(
            f"SendGrid message not built: {type(error).__name__}", permanent=True
        ) from error
    return mail


def _address(address: str) -> tuple[str, str | None]:
    name, email = parseaddr(address)
    return email, name or None


def _attachment(attachment: object) -> Attachment:
    if isinstance(attachment, MIMEBase):
        raise TransportError("SendGrid backend cannot send MIME attachments", permanent=True)
    filename, content, mimetype = attachment  # type: ignore[misc]
    data = content.encode() if isinstance(content, str) else content
    return Attachment(
        file_content=base64.b64encode(data).decode("ascii"),
        file_name=filename,
        file_type=mimetype,
        disposition="attachment",
    )


def _http_error(error: HTTPError) -> TransportError:
    status = error.status_code
    # 429 and 5xx may pass; any other 4xx (a bad address, a bad key, a
    # refused sender) will fail the same way again.
    transient = status >= 500 or status == 429
    return TransportError(f"SendGrid {status}: {_reason(error)}"[:300], permanent=not transient)


def _reason(error: HTTPError) -> str:
    """SendGrid's own explanation: {"errors": [{"message": ..., "field": ...}]}."""
    try:
        errors = error.to_dict.get("errors") or []
        parts = []
        for item in errors[:3]:
            field = f" ({item['field']})" if item.get("field") else ""
            parts.append(f"{item.get('message', '')}{field}")
        return "; ".join(parts) or str(error.reason)
    except (ValueError, AttributeError, TypeError, KeyError):
        return str(error.reason)
