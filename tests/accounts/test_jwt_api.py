from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils.dateparse import parse_datetime
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.authentication import CREDENTIAL_CLAIM, TOKEN_INVALID, token_for
from accounts.models import Credential, RevokedToken, User
from tests.conftest import PASSWORD, capture_all_queries, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/me/"
REFRESH_URLS = ["/api/v1/auth/token/refresh/", "/api/v1/auth/refresh/"]
VERIFY_URLS = ["/api/v1/auth/token/verify/", "/api/v1/auth/verify/"]
LOGOUT_URLS = ["/api/v1/auth/token/logout/", "/api/v1/auth/logout/"]
REFRESH, VERIFY, LOGOUT = REFRESH_URLS[0], VERIFY_URLS[0], LOGOUT_URLS[0]

BAD_CREDENTIALS = {"detail": "No active account found with the given credentials"}
INVALID = {"detail": TOKEN_INVALID, "code": "token_not_valid"}
OTHER_KEY = "not-our-key-" * 6


def post(path: str, data: dict[str, Any], **extra: Any) -> Response:
    return APIClient().post(path, data, format="json", **extra)


def obtain(email: str, password: str = PASSWORD, **extra: Any) -> Response:
    return post(TOKEN, {"email": email, "password": password}, **extra)


def pair_for(user: User) -> dict[str, str]:
    response = obtain(user.email)
    assert response.status_code == 200, response.content
    return response.json()


def me(access: str) -> Response:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def spoken_for(token: str) -> list[str]:
    """Needles that find the token, or any 19+ character piece of it, or its sha256.

    Every substring of 19 characters or more holds one of the aligned 10-character
    chunks, so scanning for the chunks is scanning for every such substring.
    """
    chunks = [token[i : i + 10] for i in range(0, len(token) - 9, 10)]
    return [token, hashlib.sha256(token.encode()).hexdigest(), *chunks]


def assert_refused(response: Response) -> None:
    """A token view refused the token: simplejwt's body, nothing granted."""
    assert response.json() == INVALID
    assert response.status_code == 401


def counts() -> tuple[int, int, int]:
    return User.objects.count(), Credential.objects.count(), RevokedToken.objects.count()


# --- Obtaining a pair ----------------------------------------------------------------


def test_obtained_access_token_reads_the_members_profile_without_secrets(member: User) -> None:
    member.display_name = "Bob"
    member.phone = "+14155550123"
    member.time_zone = "Europe/Paris"
    member.save(update_fields=["display_name", "phone", "time_zone"])

    response = obtain("bob@example.com")

    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert claims(pair["access"])["token_type"] == "access"
    assert claims(pair["refresh"])["token_type"] == "refresh"
    assert claims(pair["access"])["user_id"] == str(member.pk)

    profile = me(pair["access"])

    assert profile.status_code == 200
    body = profile.json()
    assert parse_datetime(body.pop("date_joined")) == member.date_joined
    assert body == {
        "id": member.pk,
        "email": "bob@example.com",
        "full_name": "Bob Member",
        "display_name": "Bob",
        "phone": "+14155550123",
        "time_zone": "Europe/Paris",
        "email_verified": False,
    }
    assert "password" not in profile.content.decode()
    assert member.credentials_fingerprint() not in profile.content.decode()


def test_obtaining_a_pair_is_case_insensitive_on_email(member: User) -> None:
    response = obtain("BOB@Example.com")

    assert response.status_code == 200
    assert claims(response.json()["access"])["user_id"] == str(member.pk)


@pytest.mark.parametrize(
    ("data", "status", "body"),
    [
        ({"email": "bob@example.com", "password": "wrong-password"}, 401, BAD_CREDENTIALS),
        ({"email": "nobody@example.com", "password": PASSWORD}, 401, BAD_CREDENTIALS),
        ({"email": "bob@example.com"}, 400, {"password": ["This field is required."]}),
        ({"password": PASSWORD}, 400, {"email": ["This field is required."]}),
        (
            {},
            400,
            {"email": ["This field is required."], "password": ["This field is required."]},
        ),
    ],
    ids=["wrong-password", "unknown-email", "no-password", "no-email", "empty"],
)
def test_a_refused_obtain_names_the_problem_and_writes_nothing(
    member: User, data: dict[str, str], status: int, body: dict[str, Any]
) -> None:
    before = counts()

    with capture_all_queries() as captured:
        response = post(TOKEN, data)

    assert response.status_code == status
    assert response.json() == body
    assert counts() == before
    statements = {q["sql"].split()[0].upper() for c in captured.values() for q in c}
    assert statements <= {"SELECT"}


def test_malformed_json_is_a_400_naming_the_parse_error(member: User) -> None:
    before = counts()

    response = APIClient().post(TOKEN, '{"email": "bob@', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert counts() == before


# --- Refresh, with rotation ---------------------------------------------------------


@pytest.mark.parametrize("url", REFRESH_URLS)
def test_refresh_rotates_the_pair_and_spends_the_old_refresh_token(member: User, url: str) -> None:
    old = pair_for(member)

    response = post(url, {"refresh": old["refresh"]})

    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != old["refresh"]
    assert claims(new["refresh"])["jti"] != claims(old["refresh"])["jti"]
    assert me(new["access"]).json()["email"] == "bob@example.com"
    revoked = RevokedToken.objects.using("creds").get()
    assert revoked.jti == claims(old["refresh"])["jti"]
    assert revoked.user_id == member.pk
    assert revoked.expires_at == datetime.fromtimestamp(claims(old["refresh"])["exp"], tz=UTC)

    again = post(url, {"refresh": old["refresh"]})

    assert_refused(again)
    assert post(url, {"refresh": new["refresh"]}).status_code == 200


def test_the_refresh_lifetime_comes_from_settings(member: User) -> None:
    pair = pair_for(member)

    refresh, access = claims(pair["refresh"]), claims(pair["access"])

    assert (
        refresh["exp"] - refresh["iat"]
        == settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()
    )
    assert (
        access["exp"] - access["iat"]
        == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    )


def test_refresh_without_a_token_is_a_400_naming_the_field() -> None:
    response = post(REFRESH, {})

    assert response.status_code == 400
    assert response.json() == {"refresh": ["This field is required."]}


def test_a_refresh_token_can_be_spent_only_once(member: User) -> None:
    refresh = pair_for(member)["refresh"]

    first = post(REFRESH_URLS[0], {"refresh": refresh})
    second = post(REFRESH_URLS[1], {"refresh": refresh})

    assert first.status_code == 200
    assert_refused(second)
    assert RevokedToken.objects.filter(jti=claims(refresh)["jti"]).count() == 1


def test_revoking_a_token_id_twice_fails_the_second_time(member: User) -> None:
    # The unique row is what settles a race the "is it revoked?" check let through.
    expires = datetime.now(tz=UTC) + timedelta(days=1)

    first = services.refresh_token_revoke(jti="a" * 32, user_id=member.pk, expires_at=expires)
    second = services.refresh_token_revoke(jti="a" * 32, user_id=member.pk, expires_at=expires)

    assert (first, second) == (True, False)
    assert RevokedToken.objects.filter(jti="a" * 32).count() == 1


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_of_two_concurrent_refreshes_of_one_token_exactly_one_wins(member: User) -> None:
    # Committed data and a connection per thread: the two requests really race.
    refresh = pair_for(member)["refresh"]
    barrier = threading.Barrier(2)

    def spend(_: int):
        try:
            barrier.wait(timeout=10)
            return post(REFRESH, {"refresh": refresh})
        finally:
            connections.close_all()  # each thread has its own connections

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = sorted(pool.map(spend, range(2)), key=lambda r: r.status_code)

    assert responses[0].status_code == 200
    assert set(responses[0].json()) == {"access", "refresh"}
    assert_refused(responses[1])
    assert RevokedToken.objects.filter(jti=claims(refresh)["jti"]).count() == 1


# --- Logout -------------------------------------------------------------------------


@pytest.mark.parametrize("url", LOGOUT_URLS)
def test_logout_revokes_the_refresh_token_by_id_only(member: User, url: str) -> None:
    refresh = pair_for(member)["refresh"]

    response = post(url, {"refresh": refresh})

    assert response.status_code == 200
    assert response.json() == {}
    assert RevokedToken.objects.using("creds").filter(jti=claims(refresh)["jti"]).exists()
    assert find_in_database("default", [refresh]) == []
    assert find_in_database("creds", [refresh]) == []

    refreshed = post(REFRESH, {"refresh": refresh})
    again = post(url, {"refresh": refresh})

    assert_refused(refreshed)
    assert_refused(again)
    assert RevokedToken.objects.count() == 1


def test_logout_leaves_the_members_other_refresh_tokens_alone(member: User) -> None:
    laptop, phone = pair_for(member), pair_for(member)

    assert post(LOGOUT, {"refresh": laptop["refresh"]}).status_code == 200

    assert post(REFRESH, {"refresh": phone["refresh"]}).status_code == 200


def test_logout_without_a_token_is_a_400_naming_the_field() -> None:
    response = post(LOGOUT, {})

    assert response.status_code == 400
    assert response.json() == {"refresh": ["This field is required."]}


# --- How the token views refuse -----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [(url, "refresh") for url in REFRESH_URLS + LOGOUT_URLS]
    + [(url, "token") for url in VERIFY_URLS],
)
def test_a_token_view_refuses_a_bad_token_with_401(url: str, field: str) -> None:
    response = post(url, {field: "garbage"})

    assert response.json() == INVALID
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_refused_obtain_says_how_to_authenticate() -> None:
    response = obtain("nobody@example.com", "wrong-password")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- Verify -------------------------------------------------------------------------


@pytest.mark.parametrize("url", VERIFY_URLS)
def test_verify_accepts_a_valid_access_and_refresh_token(member: User, url: str) -> None:
    pair = pair_for(member)

    for token in (pair["access"], pair["refresh"]):
        response = post(url, {"token": token})

        assert response.status_code == 200
        assert response.json() == {}


def test_verify_refuses_a_revoked_refresh_token(member: User) -> None:
    refresh = pair_for(member)["refresh"]
    assert post(LOGOUT, {"refresh": refresh}).status_code == 200

    assert_refused(post(VERIFY, {"token": refresh}))


def test_verify_refuses_garbage() -> None:
    for garbage in ("garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"):
        assert_refused(post(VERIFY, {"token": garbage}))


def test_verify_without_a_token_is_a_400_naming_the_field() -> None:
    response = post(VERIFY, {})

    assert response.status_code == 400
    assert response.json() == {"token": ["This field is required."]}


def test_a_token_signed_with_another_key_is_refused(member: User) -> None:
    payload = claims(pair_for(member)["access"])
    ours = jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    forged = jwt.encode(payload, OTHER_KEY, algorithm="HS256")
    unsigned = jwt.encode(payload, None, algorithm="none")
    # The same claims under our key pass: only the signature is wrong below.
    assert post(VERIFY, {"token": ours}).status_code == 200

    for token in (forged, unsigned):
        verified = post(VERIFY, {"token": token})
        used = me(token)

        assert_refused(verified)
        assert used.status_code == 401
        assert used.json()["code"] == "token_not_valid"


def test_expired_tokens_are_refused(member: User) -> None:
    refresh = token_for(member)
    refresh.set_exp(lifetime=timedelta(seconds=-1))
    access = AccessToken.for_user(member)
    access[CREDENTIAL_CLAIM] = member.credentials_fingerprint()
    access.set_exp(lifetime=timedelta(seconds=-1))

    assert_refused(post(REFRESH, {"refresh": str(refresh)}))
    assert_refused(post(VERIFY, {"token": str(access)}))
    assert_refused(post(VERIFY, {"token": str(refresh)}))
    response = me(str(access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert RevokedToken.objects.count() == 0


# --- Credential changes and deactivation ------------------------------------------


def test_a_password_change_voids_every_token_minted_before_it(member: User) -> None:
    old = pair_for(member)

    member.set_password("A-new-password-93")
    member.save()

    assert_refused(post(REFRESH, {"refresh": old["refresh"]}))
    used = me(old["access"])
    assert used.status_code == 401
    assert used.json() == {"detail": TOKEN_INVALID}
    assert_refused(post(VERIFY, {"token": old["access"]}))
    assert_refused(post(VERIFY, {"token": old["refresh"]}))
    assert obtain(member.email).status_code == 401  # the old password is gone

    fresh = obtain(member.email, "A-new-password-93")

    assert fresh.status_code == 200
    new = fresh.json()
    assert me(new["access"]).json()["email"] == "bob@example.com"
    assert post(REFRESH, {"refresh": new["refresh"]}).status_code == 200


def test_a_deactivated_members_tokens_are_refused(member: User) -> None:
    pair = pair_for(member)

    member.is_active = False
    member.save(update_fields=["is_active"])

    used = me(pair["access"])
    assert used.status_code == 401
    assert used.json() == {"detail": TOKEN_INVALID}
    assert_refused(post(REFRESH, {"refresh": pair["refresh"]}))
    assert_refused(post(VERIFY, {"token": pair["access"]}))
    assert_refused(post(VERIFY, {"token": pair["refresh"]}))
    assert_refused(post(LOGOUT, {"refresh": pair["refresh"]}))
    refused = obtain(member.email)
    assert refused.status_code == 401
    assert refused.json() == BAD_CREDENTIALS
    assert RevokedToken.objects.count() == 0


# --- Where tokens are (not) stored -------------------------------------------------


def test_no_refresh_token_is_stored_in_either_database(member: User) -> None:
    first = pair_for(member)["refresh"]
    second = post(REFRESH, {"refresh": first}).json()["refresh"]
    assert post(LOGOUT, {"refresh": second}).status_code == 200
    jtis = [claims(first)["jti"], claims(second)["jti"]]
    needles = spoken_for(first) + spoken_for(second)

    assert find_in_database("default", needles + jtis) == []
    assert find_in_database("creds", needles) == []
    # The scan can find things: the ids, and only them, are where they belong.
    assert sorted(find_in_database("creds", jtis)) == sorted(
        ("accounts_revokedtoken", "jti", jti) for jti in jtis
    )


# --- Throttling ---------------------------------------------------------------------

REFUSED = "Too many attempts. Try again in 15 minutes."


def test_five_failures_throttle_the_account_on_that_address_even_with_the_right_password(
    member: User, outsider: User
) -> None:
    for email in ["bob@example.com", "BOB@example.com"] * 2 + ["Bob@Example.com"]:
        assert obtain(email, "wrong-password").status_code == 401

    throttled = obtain("bob@example.com")

    assert throttled.status_code == 429
    assert throttled.json() == {"detail": REFUSED}
    assert 14 * 60 < int(throttled["Retry-After"]) <= 15 * 60
    assert obtain("charlie@example.com").status_code == 200
    assert obtain("bob@example.com", REMOTE_ADDR="10.0.0.9").status_code == 200
    assert obtain("bob@example.com").status_code == 429


def test_a_successful_obtain_clears_the_failure_count(member: User) -> None:
    for _ in range(4):
        assert obtain("bob@example.com", "wrong-password").status_code == 401
    assert obtain("bob@example.com").status_code == 200

    for _ in range(4):
        assert obtain("bob@example.com", "wrong-password").status_code == 401

    assert obtain("bob@example.com").status_code == 200


def test_failed_web_sign_ins_count_towards_the_api_throttle(member: User) -> None:
    web = Client()
    for _ in range(5):
        response = web.post("/accounts/login/", {"username": member.email, "password": "nope"})
        assert response.status_code == 200

    throttled = obtain(member.email)

    assert throttled.status_code == 429
    assert throttled.json() == {"detail": REFUSED}


def test_failures_for_an_unknown_email_are_throttled_too() -> None:
    for _ in range(5):
        assert obtain("nobody@example.com", "wrong-password").status_code == 401

    response = obtain("nobody@example.com", "wrong-password")

    assert response.status_code == 429
    assert response.json() == {"detail": REFUSED}


# --- Access control on /me/ --------------------------------------------------------


def test_anonymous_cannot_read_me() -> None:
    response = APIClient().get(ME)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("persona", ["member", "outsider", "staff", "superuser"])
def test_each_user_reads_his_own_profile_with_his_own_token(
    persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)

    response = me(pair_for(user)["access"])

    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert response.json()["email"] == user.email


def test_a_session_signed_in_member_reads_me(member: User) -> None:
    response = signed_in(member).get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == "bob@example.com"


def test_an_access_token_is_not_a_refresh_token_and_a_refresh_token_is_not_bearer(
    member: User,
) -> None:
    pair = pair_for(member)

    as_refresh = post(REFRESH, {"refresh": pair["access"]})
    as_logout = post(LOGOUT, {"refresh": pair["access"]})
    as_bearer = me(pair["refresh"])

    assert_refused(as_refresh)
    assert_refused(as_logout)
    assert as_bearer.status_code == 401
    assert as_bearer.json()["code"] == "token_not_valid"
    assert RevokedToken.objects.count() == 0


# --- OpenAPI ------------------------------------------------------------------------


def test_the_token_endpoints_and_me_are_in_the_schema() -> None:
    response = APIClient().get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {TOKEN, ME, *REFRESH_URLS, *VERIFY_URLS, *LOGOUT_URLS}
    assert expected <= set(paths)
    for path in expected - {ME}:
        assert "post" in paths[path], path
    assert {"jwtAuth": []} in paths[ME]["get"]["security"]
