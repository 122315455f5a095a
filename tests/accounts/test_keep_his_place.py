"""A newcomer keeps his place: `next` survives sign-in, sign-up (both pages' links to
each other), the emailed verification link and Google sign-in, and brings him back to
the join page he started from. A look-alike of a local path never leaves the site."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import User
from tests.accounts.test_sign_up import FORM, verify, verify_link
from tests.circles.conftest import make_circle, make_verified
from tests.conftest import PASSWORD, committed
from tests.fakes import oidc

pytestmark = pytest.mark.django_db(databases="__all__")

google_provider = oidc.google_provider

JOIN = "/circles/brooklyn-tuesday/join/"
LOOK_ALIKES = ["//evil.example", "https://evil.example", "/\\evil", "/\\/evil.example/"]


def _href(page: str, text: str) -> str:
    """The address of the page's own link (not the menu's) whose text is `text`."""
    main = page[page.index('<main id="main"') :]
    match = re.search(rf'<a href="([^"]*)"[^>]*>{re.escape(text)}</a>', main)
    assert match, f"no link {text!r}"
    return unescape(match[1])


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (
        not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
    )


@pytest.fixture
def circle(db: None):
    return make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday")


def test_ask_to_join_sends_him_to_sign_in_holding_the_join_page(circle) -> None:
    response = Client().get(JOIN)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={JOIN}"


def test_create_an_account_on_the_sign_in_page_carries_next_through_verification(
    circle,
) -> None:
    browser = Client()
    sign_in = browser.get("/accounts/login/", {"next": JOIN}).content.decode()
    sign_up_url = _href(sign_in, "Create an account")
    assert sign_up_url == f"/accounts/signup/?next={JOIN}"

    sign_up = browser.get(sign_up_url).content.decode()
    assert f'<input type="hidden" name="next" value="{JOIN}">' in sign_up
    with committed():
        browser.post(sign_up_url, {**FORM, "next": JOIN})

    # The verify step asks for his password, then lands him on the join page.
    response = verify(Client(), verify_link())
    assert response.status_code == 302
    assert response["Location"] == JOIN
    assert User.objects.get().is_verified


def test_sign_in_on_the_sign_up_page_carries_next_and_signing_in_lands_there(circle) -> None:
    make_verified("dan@example.com")
    browser = Client()
    sign_up = browser.get("/accounts/signup/", {"next": JOIN}).content.decode()
    sign_in_url = _href(sign_up, "Sign in")
    assert sign_in_url == f"/accounts/login/?next={JOIN}"

    page = browser.get(sign_in_url).content.decode()
    assert f'<input type="hidden" name="next" value="{JOIN}">' in page
    response = browser.post(
        sign_in_url, {"username": "dan@example.com", "password": PASSWORD, "next": JOIN}
    )

    assert response.status_code == 302
    assert response["Location"] == JOIN
    assert browser.get(JOIN).status_code == 200


def test_google_sign_in_from_the_sign_in_page_brings_him_back_to_the_join_page(
    circle, google_provider
) -> None:
    google_provider.next_identity = {
        "sub": "sub-sam",
        "email": "sam@example.com",
        "email_verified": True,
        "name": "Sam Newman",
    }
    browser = Client()
    sign_in = browser.get("/accounts/login/", {"next": JOIN}).content.decode()
    start = _href(sign_in, "Sign in with Google")
    assert start == f"/accounts/google/?next={JOIN}"

    at_google = browser.get(start)["Location"]
    back = requests.get(at_google, allow_redirects=False, timeout=5).headers["Location"]
    assert back.startswith(django_settings.SITE_URL + "/accounts/google/callback/")
    parts = urlsplit(back)
    response = browser.get(parts.path, dict(parse_qsl(parts.query)))

    assert response.status_code == 302
    assert response["Location"] == JOIN
    assert browser.get(JOIN).status_code == 200


# --- Look-alikes of a local path: every way in ends on a page of this site --------------


@pytest.mark.parametrize("target", LOOK_ALIKES)
def test_a_look_alike_next_is_not_followed_after_sign_in(circle, target: str) -> None:
    make_verified("dan@example.com")
    browser = Client()
    page = browser.get("/accounts/login/", {"next": target}).content.decode()
    assert "evil" not in page  # nor carried on to sign-up or Google

    response = browser.post(
        "/accounts/login/", {"username": "dan@example.com", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]
    assert browser.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("target", LOOK_ALIKES)
def test_a_look_alike_next_is_not_followed_after_sign_up_and_verification(
    circle, target: str
) -> None:
    browser = Client()
    page = browser.get("/accounts/signup/", {"next": target}).content.decode()
    assert "evil" not in page
    with committed():
        browser.post("/accounts/signup/", {**FORM, "next": target})

    response = verify(Client(), verify_link())

    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]
    assert User.objects.get().sign_up_next == ""


@pytest.mark.parametrize("target", LOOK_ALIKES)
def test_a_look_alike_next_is_not_followed_after_google_sign_in(
    circle, google_provider, target: str
) -> None:
    google_provider.next_identity = {
        "sub": "sub-sam",
        "email": "sam@example.com",
        "email_verified": True,
        "name": "Sam Newman",
    }
    browser = Client()
    at_google = browser.get("/accounts/google/", {"next": target})["Location"]
    back = requests.get(at_google, allow_redirects=False, timeout=5).headers["Location"]
    parts = urlsplit(back)

    response = browser.get(parts.path, dict(parse_qsl(parts.query)))

    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]
    assert browser.get("/accounts/settings/").status_code == 200  # signed in all the same
