"""Friendly 403 / 404 / 500 / 503 pages in the site's look; 500 and 503 need
neither the database nor the request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from mensc import views
from tests.conftest import signed_in
from tests.proc import DEAD_POSTGRES, ROOT, child_env

SITE_LOOK = ("/static/vendor/pico/pico.min.css", "/static/css/site.css", "Men&#x27;s Circle")


def looks_like_the_site(html: str) -> bool:
    html = html.replace("Men's Circle", "Men&#x27;s Circle")
    return all(mark in html for mark in SITE_LOOK) and 'class="brand"' in html


@pytest.mark.django_db(databases="__all__")
def test_404_is_a_friendly_page_in_the_sites_look(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'href="/circles/"' in html
    assert looks_like_the_site(html)


@pytest.mark.django_db(databases="__all__")
def test_403_offers_sign_in_to_anonymous_and_explains_to_members(member) -> None:
    request = RequestFactory().get("/circles/private/")
    anonymous = views.permission_denied(request, PermissionDenied()).content.decode()
    request.user = member
    signed_in_page = views.permission_denied(request, PermissionDenied()).content.decode()

    assert "You can't open this page" in anonymous
    assert 'href="/accounts/login/?next=/circles/private/"' in anonymous
    assert "facilitator" in signed_in_page
    assert looks_like_the_site(anonymous)


@pytest.mark.django_db(databases="__all__")
def test_a_stale_form_gets_a_friendly_403_not_djangos_csrf_page() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "a@example.com", "password": "x"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "Please try that again" in html
    assert "CSRF verification failed" not in html
    assert looks_like_the_site(html)


# No django_db mark: any database query in these raises.


def test_500_page_needs_no_database_and_no_request() -> None:
    html = render_to_string("500.html")  # no context, no request

    response = views.server_error(RequestFactory().get("/circles/"))

    assert "Something went wrong" in html
    assert looks_like_the_site(html)
    assert response.status_code == 500
    assert response.content.decode() == html


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_database_outage_is_a_503_with_retry_after_not_a_500(error) -> None:
    request = RequestFactory().get("/circles/")
    try:
        raise error("connection refused")
    except error:
        # Django calls handler500 inside its `except` block.
        page = views.server_error(request)
        api = views.server_error(RequestFactory().get("/api/v1/circles/"))

    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] == api["Retry-After"] == "30"
    html = page.content.decode()
    assert "Back in a moment" in html
    assert looks_like_the_site(html)
    assert json.loads(api.content) == {"detail": "Service temporarily unavailable."}


def test_other_errors_stay_500() -> None:
    try:
        raise ValueError("a bug")
    except ValueError:
        response = views.server_error(RequestFactory().get("/circles/"))

    assert response.status_code == 500


OUTAGE_SCRIPT = """
import django
django.setup()
from django.test import Client
response = Client(raise_request_exception=False).get("/circles/", secure=True,
                                                     HTTP_X_REQUEST_ID="outage-1")
print("STATUS", response.status_code, response["Retry-After"], response["X-Request-ID"])
print("BODY", response.content.decode().replace("\\n", " "))
"""


def test_a_dead_database_shows_the_503_page_and_logs_the_error_with_its_trace(
    django_db_setup,
) -> None:
    env = child_env(DATABASE_URL=DEAD_POSTGRES, CREDS_DATABASE_URL=DEAD_POSTGRES)
    env.pop("LOG_FORMAT", None)  # production's JSON

    proc = subprocess.run(
        [sys.executable, "-c", OUTAGE_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    assert "STATUS 503 30 outage-1" in proc.stdout
    assert "Back in a moment" in proc.stdout
    logged = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    error = next(e for e in logged if e["logger"] == "django.request")
    assert error["level"] == "ERROR"
    assert error["status_code"] == 503
    assert error["request_id"] == "outage-1"
    assert error["exc_type"] == "OperationalError"
    assert "Traceback" in error["exc_info"]


@pytest.mark.django_db(databases="__all__")
def test_a_signed_in_member_sees_the_404_page_with_his_menu(member) -> None:
    response = signed_in(member).get("/no-such-page/")

    assert response.status_code == 404
    assert b"Sign out" in response.content
