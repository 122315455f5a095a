"""The Content-Security-Policy and what it relies on: pages with no inline
script or style; the client's address taken from the proxy only when told."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from mensc.middleware import RealIpMiddleware
from mensc.views import API_DOCS_CSP
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/circles/",
    "/no-such-page/",
]
SIGNED_IN_PAGES = ["/dashboard/", "/accounts/settings/", "/calendar/", "/admin/"]


def csp_directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def inline_code(html: str) -> list[str]:
    """What a CSP without 'unsafe-inline' would block."""
    return (
        re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html)
        + re.findall(r"<style[\s>]", html)
        + re.findall(r"\sstyle=\"", html)
        + re.findall(r"\son[a-z]+=\"", html)
        + re.findall(r"javascript:", html)
    )


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_the_strict_policy_and_contain_nothing_it_would_block(
    client: Client, path: str
) -> None:
    response = client.get(path)

    directives = csp_directives(response["Content-Security-Policy"])
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert inline_code(response.content.decode()) == []


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_pages_and_the_admin_contain_nothing_the_policy_would_block(
    superuser, path: str
) -> None:
    response = signed_in(superuser).get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert inline_code(response.content.decode()) == []


def test_forms_may_post_on_to_stripe_and_google_only(client: Client) -> None:
    form_action = csp_directives(client.get("/")["Content-Security-Policy"])["form-action"]

    assert set(form_action.split()) == {
        "'self'",
        "https://checkout.stripe.com",
        "https://billing.stripe.com",
        "https://accounts.google.com",
    }


def test_htmx_is_told_not_to_inject_its_inline_styles(client: Client) -> None:
    html = client.get("/").content.decode()

    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>' in html


def test_only_the_debug_api_docs_relax_the_policy_and_only_for_styles(
    client: Client, settings
) -> None:
    settings.DEBUG = True

    page = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/?script=")

    assert page.status_code == script.status_code == 200
    assert page["Content-Security-Policy"] == API_DOCS_CSP
    directives = csp_directives(API_DOCS_CSP)
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    # Swagger UI starts from a script file of its own, not an inline one.
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", page.content.decode()) == []
    assert b"SwaggerUIBundle" in script.content


def remote_addr_seen(headers: dict[str, str]) -> str:
    seen: dict[str, str] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["addr"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", **headers)
    RealIpMiddleware(view)(request)
    return seen["addr"]


def test_the_client_address_comes_from_x_real_ip_only_when_trusted(settings) -> None:
    settings.USE_X_REAL_IP = False
    assert remote_addr_seen({"HTTP_X_REAL_IP": "203.0.113.7"}) == "10.0.0.5"

    settings.USE_X_REAL_IP = True
    assert remote_addr_seen({"HTTP_X_REAL_IP": "203.0.113.7"}) == "203.0.113.7"
    assert remote_addr_seen({"HTTP_X_REAL_IP": "2001:db8::1"}) == "2001:db8::1"
    assert remote_addr_seen({"HTTP_X_REAL_IP": "not-an-address"}) == "10.0.0.5"
    assert remote_addr_seen({}) == "10.0.0.5"


def test_with_debug_on_djangos_technical_404_page_is_not_blocked(client: Client, settings) -> None:
    settings.DEBUG = True

    page = client.get("/")
    technical = client.get("/no-such-page/")

    assert page["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert technical.status_code == 404
    assert "Content-Security-Policy" not in technical
