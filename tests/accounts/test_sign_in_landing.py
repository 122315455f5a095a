"""Where a man lands after signing in: his dashboard, unless a page on this site sent him."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD, give_authenticator, totp_code

pytestmark = pytest.mark.django_db(databases="__all__")


def sign_in(data: dict[str, str], url: str = "/accounts/login/") -> tuple[Client, str]:
    client = Client()
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    return client, response["Location"]


def test_a_plain_sign_in_lands_on_the_dashboard(member: User) -> None:
    client, landing = sign_in({"username": member.email, "password": PASSWORD})

    assert landing == "/dashboard/"
    assert client.get(landing).status_code == 200


def test_a_safe_next_is_honoured(member: User) -> None:
    _, landing = sign_in(
        {"username": member.email, "password": PASSWORD, "next": "/circles/brooklyn/join/"}
    )

    assert landing == "/circles/brooklyn/join/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", ""])
def test_an_offsite_or_empty_next_lands_on_the_dashboard(member: User, target: str) -> None:
    _, landing = sign_in({"username": member.email, "password": PASSWORD, "next": target})

    assert landing == "/dashboard/"


def test_with_two_factor_the_code_page_also_ends_on_the_dashboard(member: User) -> None:
    device = give_authenticator(member)
    client, landing = sign_in({"username": member.email, "password": PASSWORD})
    assert client.get(landing)["Location"].startswith("/accounts/two-factor/verify/")

    # The code page's own default, when nothing sent him there.
    response = client.post("/accounts/two-factor/verify/", {"code": totp_code(device.key)})

    assert response["Location"] == "/dashboard/"


def test_a_wrong_password_lands_nowhere(member: User) -> None:
    response = Client().post("/accounts/login/", {"username": member.email, "password": "nope"})

    assert response.status_code == 200
    assert "_auth_user_id" not in response.wsgi_request.session
