"""Deep or huge API bodies are a 400 naming the limit, never a 500 (mensc.parsers)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from circles import services
from mensc.parsers import MAX_DEPTH, TOO_DEEP
from mensc.views import TOO_LARGE
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")

BODY_URLS = [
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/refresh/",
    "/api/v1/auth/token/verify/",
    "/api/v1/auth/verify/",
    "/api/v1/auth/token/logout/",
    "/api/v1/auth/logout/",
]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_json(client: Client, url: str, body: str | bytes):
    return client.post(url, body, content_type="application/json")


@pytest.fixture
def errors_logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level("ERROR", logger="django.request")
    return caplog


@pytest.mark.parametrize("url", BODY_URLS)
def test_deeply_nested_json_is_a_400_naming_the_limit(url: str, errors_logged) -> None:
    response = post_json(Client(raise_request_exception=False), url, nested(950))

    assert response.status_code == 400
    assert response.json() == {"detail": TOO_DEEP}
    assert not [r for r in errors_logged.records if r.levelname == "ERROR"]


def test_nesting_is_bounded_for_an_rsvp_too() -> None:
    circle = make_circle()
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    man = make_verified("ben@example.com")
    join(man, circle)
    services.agreement_accept(user=man, circle=circle, version=1)
    meeting = make_meeting(circle)
    client = Client(raise_request_exception=False)
    client.force_login(man)

    response = post_json(client, f"/api/v1/meetings/{meeting.pk}/rsvp/", nested(950))

    assert response.status_code == 400
    assert TOO_DEEP in response.json()["response"][0]
    assert not meeting.rsvps.exists()


@pytest.mark.parametrize(
    "body",
    [
        # Objects as deep as arrays; brackets inside strings do not count.
        '{"a":' * 40 + "1" + "}" * 40,
        "[" * 33 + '"' + "[" * 5000 + '"' + "]" * 33,
        # Brackets that never pair up, deep enough to have recursed.
        "[" * 5000,
        "[" * 40 + "}" * 40,
    ],
    ids=["objects", "brackets in a string", "unclosed", "mismatched"],
)
def test_any_body_past_the_limit_or_unbalanced_is_refused(body: str) -> None:
    response = post_json(Client(), "/api/v1/auth/token/", body)

    assert response.status_code == 400
    assert response.json() == {"detail": TOO_DEEP}


def test_json_at_the_limit_is_parsed_as_before(member) -> None:
    # Deep but legal: the body parses, and the serializer explains what is wrong.
    deep = json.loads(nested(MAX_DEPTH - 1))
    body = json.dumps({"email": "bob@example.com", "password": PASSWORD, "x": deep})
    response = post_json(Client(), "/api/v1/auth/token/", body)

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}


def test_brackets_inside_strings_are_not_nesting(member) -> None:
    note = "[{" * 500 + '"' + "]}" * 500  # an escaped quote must not end the string
    body = json.dumps({"email": "bob@example.com", "password": PASSWORD, "note": note})
    response = post_json(Client(), "/api/v1/auth/token/", body)

    assert response.status_code == 200, response.content


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"refresh": "x" * 2000})),
        ("application/x-www-form-urlencoded", "refresh=" + "x" * 2000),
    ],
)
def test_a_body_past_data_upload_max_memory_size_is_a_400(content_type: str, body: str) -> None:
    response = Client().post("/api/v1/auth/refresh/", body, content_type=content_type)

    assert response.status_code == 400
    assert response.json() == {"detail": TOO_LARGE}


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_a_form_body_with_too_many_fields_is_a_400() -> None:
    body = "&".join(f"f{n}=x" for n in range(20))
    response = Client().post(
        "/api/v1/auth/refresh/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": TOO_LARGE}
