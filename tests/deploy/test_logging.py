"""Structured logs: JSON lines, a request id on each, no secrets."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
from collections.abc import Iterator

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from mensc import log
from tests.proc import child_env, manage

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged under `django` and `mensc`, formatted as production does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("django", "mensc")]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- Request ids ---------------------------------------------------------------------


def test_a_valid_request_id_from_the_proxy_is_used_and_echoed(client: Client) -> None:
    response = client.get("/api/v1/health/live", HTTP_X_REQUEST_ID="lb-7f3a.42:x_y")

    assert response["X-Request-ID"] == "lb-7f3a.42:x_y"


@pytest.mark.parametrize(
    "given",
    ["", "has space", 'quote"d', "x" * 129, "line\\nbreak", "naïve"],
    ids=["empty", "space", "quote", "too-long", "backslash", "non-ascii"],
)
def test_an_unusable_request_id_is_replaced_by_a_new_one(client: Client, given: str) -> None:
    response = client.get("/api/v1/health/live", HTTP_X_REQUEST_ID=given)

    assert HEX32.match(response["X-Request-ID"])


def test_every_request_gets_its_own_id(client: Client) -> None:
    ids = {client.get("/api/v1/health/live")["X-Request-ID"] for _ in range(3)}

    assert len(ids) == 3
    assert all(HEX32.match(i) for i in ids)


@pytest.mark.django_db(databases="__all__")
def test_every_log_line_of_a_request_carries_its_id_then_it_is_forgotten(
    client: Client, json_log: io.StringIO
) -> None:
    # Django writes "Not Found" after the middleware has returned.
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    logging.getLogger("mensc").info("between requests")

    lines = entries(json_log)
    not_found = next(e for e in lines if e["logger"] == "django.request")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-404"
    assert not_found["request_id"] == "req-404"
    assert not_found["level"] == "WARNING"
    assert not_found["status_code"] == 404
    assert "request_id" not in lines[-1], "the id outlived its request"
    assert log.request_id.get() is None


# --- The formatter ----------------------------------------------------------------------


def test_json_lines_keep_the_stack_trace_of_an_error(json_log: io.StringIO) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("mensc.test").exception("it broke")

    (entry,) = entries(json_log)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "it broke"
    assert entry["exc_type"] == "ZeroDivisionError"
    assert entry["exc_info"].startswith("Traceback (most recent call last)")
    assert "1 / 0" in entry["exc_info"]
    assert {"time", "logger", "process"} <= entry.keys()


def test_the_request_on_an_error_record_is_never_written(json_log: io.StringIO) -> None:
    password = secrets.token_urlsafe(12)
    request = RequestFactory().post(
        "/accounts/login/?next=/x", {"username": "a@example.com", "password": password}
    )
    request.id = "req-1"

    logging.getLogger("django.request").error(
        "Internal Server Error: %s", request.path, extra={"request": request, "status_code": 500}
    )

    (entry,) = entries(json_log)
    assert entry["request_id"] == "req-1"
    assert entry["status_code"] == 500
    assert password not in json_log.getvalue()
    assert "next=" not in json_log.getvalue()


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def credential_routes() -> list[str]:
    return [r for r in _routes(get_resolver()) if re.search(r"<(?:\w+:)?(token|uidb64)>", r)]


def test_every_url_that_carries_a_credential_is_redacted_in_logs() -> None:
    routes = credential_routes()
    assert len(routes) >= 3  # verify email, password reset, calendar feed

    for route in routes:
        token = secrets.token_urlsafe(16)
        path = "/" + re.sub(r"<(?:\w+:)?\w+>", token, route).lstrip("^").rstrip("$")
        message = f"Not Found: {path}"

        assert token not in log.redact(message), f"{route} is not in mensc.log.SECRET_PATHS"
        assert log.REDACTED in log.redact(message)


@pytest.mark.parametrize(
    "path",
    ["/accounts/verify/resend/", "/accounts/password/reset/sent/", "/calendar/", "/circles/x/"],
)
def test_paths_without_a_credential_are_logged_as_they_are(path: str) -> None:
    assert log.redact(path) == path


# --- Production settings ----------------------------------------------------------------------


def test_production_logs_json_lines_by_default(django_db_setup) -> None:
    env = child_env()
    env.pop("LOG_FORMAT", None)

    proc = manage(
        "shell", "-c", "import logging; logging.getLogger('mensc').warning('hello')", env=env
    )

    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "hello" in ln)
    assert json.loads(line) | {"time": None, "process": None} == {
        "time": None,
        "process": None,
        "level": "WARNING",
        "logger": "mensc",
        "message": "hello",
    }


def test_an_unknown_log_format_stops_start_up(django_db_setup) -> None:
    proc = manage("check", env=child_env(LOG_FORMAT="xml"))

    assert proc.returncode != 0
    assert "LOG_FORMAT must be 'plain' or 'json'" in proc.stderr
