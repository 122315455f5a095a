from __future__ import annotations

import json
from functools import partial

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory

from accounts.models import User
from mensc import views
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_landing_page_explains_and_offers_sign_in_to_anonymous(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert b"<h1>Men's Circle</h1>" in response.content
    assert b'href="/accounts/login/"' in response.content
    assert b"/static/vendor/pico/pico.min.css" in response.content


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_landing_page_greets_signed_in_people(request, persona: str) -> None:
    user: User = request.getfixturevalue(persona)

    response = signed_in(user).get("/")

    assert response.status_code == 200
    assert f"Welcome back, {user.get_short_name()}".encode() in response.content
    assert (b'href="/admin/"' in response.content) is user.is_staff


def test_pages_load_nothing_from_third_parties(client: Client) -> None:
    content = client.get("/").content.decode()

    assert "http://" not in content
    assert "https://" not in content


@pytest.mark.parametrize(
    "url",
    ["/accounts/login/", "/accounts/password/reset/", "/accounts/password/reset/sent/"],
)
def test_public_account_pages_open_to_anonymous(client: Client, url: str) -> None:
    assert client.get(url).status_code == 200


def test_sign_in_page_sends_a_signed_in_member_onwards(member: User) -> None:
    response = signed_in(member).get("/accounts/login/")

    assert response.status_code == 302


@pytest.mark.parametrize("url", ["/accounts/password/change/", "/accounts/password/change/done/"])
def test_password_change_pages_need_sign_in(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_password_change_page_opens_for_any_signed_in_person(request, persona: str) -> None:
    user: User = request.getfixturevalue(persona)

    assert signed_in(user).get("/accounts/password/change/").status_code == 200


def test_sign_out_is_a_post_and_ends_the_session(member: User) -> None:
    client = signed_in(member)
    assert client.get("/accounts/logout/").status_code == 405

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/accounts/password/change/").status_code == 302


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (views.server_error, 500),
        (partial(views.bad_request, exception=Exception()), 400),
        (partial(views.permission_denied, exception=PermissionDenied()), 403),
        (partial(views.page_not_found, exception=Http404()), 404),
    ],
)
def test_error_pages_are_json_under_the_api_and_html_elsewhere(handler, status: int) -> None:
    factory = RequestFactory()

    api = handler(factory.get("/api/v1/anything"))
    page = handler(factory.get("/anything"))

    assert api.status_code == page.status_code == status
    assert api["Content-Type"] == "application/json"
    assert json.loads(api.content)["detail"]
    assert page["Content-Type"].startswith("text/html")
