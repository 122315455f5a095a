"""A NUL byte anywhere a request carries text is a 400 or ignored, never a 500.

PostgreSQL refuses text holding NUL (DataError): before mensc.middleware.NulByteMiddleware
and the session key check in accounts.session_backends, a session cookie holding one
made public pages answer 500, and so did a NUL in a query string or form that reached a
query without a form field in between.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from accounts.session_backends import KEY_LENGTH
from mensc.middleware import NUL_REFUSED
from tests.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

PUBLIC_PAGES = ["/circles/", "/api/v1/circles/", "/", "/accounts/login/"]


def anonymous() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("url", PUBLIC_PAGES)
@pytest.mark.parametrize(
    "cookie",
    ["abc\0defghijklmnop", "\0" * 32, "a" * 31 + "\0", "x" * 5000, "ABCDEFGH" * 4, "é" * 32],
    ids=["nul", "all-nul", "nul-at-32", "long", "upper-case", "not-ascii"],
)
def test_a_malformed_session_cookie_is_no_session(url: str, cookie: str) -> None:
    client = anonymous()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie

    response = client.get(url)

    assert response.status_code == 200


def test_the_session_store_refuses_a_key_of_another_shape_without_a_query(
    django_assert_num_queries,
) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    with django_assert_num_queries(0):
        assert store("abc\0defghijklmnop").session_key is None
        assert store("a" * (KEY_LENGTH + 1)).session_key is None
    assert store("a" * KEY_LENGTH).session_key == "a" * KEY_LENGTH


def test_a_real_session_still_signs_in(member: User) -> None:
    client = signed_in(member)

    assert client.get("/accounts/settings/").status_code == 200


def test_another_cookie_holding_a_nul_is_dropped_and_the_session_kept(member: User) -> None:
    client = signed_in(member)
    client.cookies["tracking"] = "x\0y"
    client.cookies["csrftoken"] = "\0"

    response = client.get("/accounts/settings/")

    assert response.status_code == 200
    assert response.wsgi_request.user == member
    assert "tracking" not in response.wsgi_request.COOKIES


@pytest.mark.parametrize(
    "url",
    [
        "/circles/?day=%00",
        "/circles/?%00=1",
        "/api/v1/circles/?kind=%00",
        "/accounts/login/?next=%00",
        "/accounts/verify/%00/",
    ],
)
def test_a_nul_in_the_address_is_a_400(url: str) -> None:
    response = anonymous().get(url)

    assert response.status_code == 400


def test_under_the_api_the_400_says_why() -> None:
    response = anonymous().get("/api/v1/circles/?kind=%00")

    assert response.json() == {"detail": NUL_REFUSED}


def test_on_a_page_the_400_is_the_site_own_page() -> None:
    response = anonymous().get("/circles/?day=%00")

    assert b"This request could not be read" in response.content


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_a_nul_in_a_form_is_a_400_and_changes_nothing(member: User, multipart: bool) -> None:
    data = {"username": "bob@example.com\0", "password": PASSWORD}
    client = anonymous()
    if multipart:
        response = client.post("/accounts/login/", data)
    else:
        response = client.post(
            "/accounts/login/",
            "username=bob%40example.com%00&password=" + PASSWORD,
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_json_body_is_left_to_its_view() -> None:
    # "\u0000" in JSON is the serializer's to refuse, with a message naming the field.
    response = anonymous().post(
        "/api/v1/auth/token/",
        '{"email": "a\\u0000@example.com", "password": "x"}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "email" in response.json()
