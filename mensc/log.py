"""Structured logs: one JSON object a line, each tagged with its request's id.

Used by Django's LOGGING (``LOG_FORMAT=json``, the production default) and by
gunicorn (``logger_class`` in deploy/gunicorn.conf.py), so the app's lines and
the access log read the same way. Standard library only: gunicorn's master
loads this before Django.

What never goes in a log line: request or message bodies, query strings,
headers other than the user agent, and the secret part of URLs that carry a
token (``SECRET_PATHS``). Exceptions keep their stack trace.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

# The id of the request this thread (or task) is serving, set by
# mensc.middleware.RequestIdMiddleware and cleared when the response is closed.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mensc_request_id", default=None
)

# Ids we accept from a client or proxy: short, and nothing that could forge a
# log line or a header. nginx's own ids (32 hex digits) and UUIDs pass.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def valid_request_id(value: str | None) -> bool:
    return bool(value) and REQUEST_ID_PATTERN.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


# URLs whose path is a credential: an email verification link, a password
# reset link, an email-change link, a personal calendar feed. deploy/nginx.conf
# redacts the same paths in nginx's access log; tests/deploy checks every such
# URL is listed.
REDACTED = "[redacted]"
SECRET_PATHS = [
    (re.compile(r"(/accounts/verify/)(?!resend/)[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    (
        re.compile(r"(/accounts/password/reset/)(?!sent/|complete/)[^/\s?#\"']+/[^/\s?#\"']+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(/accounts/invitation/)[^/\s?#\"']+/[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/accounts/email/confirm/)[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/calendar/)[^/\s?#\"']+(\.ics)"), rf"\g<1>{REDACTED}\g<2>"),
]


def redact(text: str) -> str:
    """`text` with the secret part of any credential-bearing URL path removed."""
    for pattern, replacement in SECRET_PATHS:
        text = pattern.sub(replacement, text)
    return text


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id.

    Only named fields are written. Django attaches the whole request to its
    error records (``extra={"request": ...}``); it is never serialised, only
    its id is read from it.
    """

    # Extra attributes worth keeping when a caller passes them.
    EXTRA_FIELDS = ("status_code",)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "process": record.process,
        }
        rid = request_id.get() or getattr(getattr(record, "request", None), "id", None)
        if rid:
            entry["request_id"] = rid
        for name in self.EXTRA_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc_info"] = redact("".join(traceback.format_exception(*record.exc_info)))
        elif record.stack_info:
            entry["stack_info"] = redact(record.stack_info)
        return json.dumps(entry, default=str)


class GunicornLogger(_GunicornLogger):
    """Gunicorn's error and access logs as JSON lines.

    The access line carries the request id the app echoed in its response
    (X-Request-ID), the method, the path without its query string (redacted
    where it is a credential), status, size and duration; not the referer,
    which can hold such a path too.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # Access lines are JSON already (below); gunicorn formats them as "%(message)s".
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        headers = dict((name.lower(), value) for name, value in (resp.headers or []))
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        entry = {
            "time": _timestamp(time.time()),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "request",
            "request_id": headers.get("x-request-id"),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": redact(environ.get("PATH_INFO", "")),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info(json.dumps(entry))
