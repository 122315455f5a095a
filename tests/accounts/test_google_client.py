"""accounts.google against a local fake OpenID provider: real HTTP, real signatures."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qsl, urlsplit

import pytest

from accounts import google
from tests.fakes import oidc
from tests.fakes.oidc import FakeOIDCProvider

# Registers the fixture here. An assignment rather than a bare import, because ruff
# reports an imported fixture as redefined (F811) by every test that asks for it.
google_provider = oidc.google_provider

REDIRECT_URI = "http://testserver/accounts/google/callback/"


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _sign_in(fake: FakeOIDCProvider, *, nonce: str | None = None) -> google.GoogleClaims:
    """The whole round trip, as the views will do it."""
    request = google.authorization_request(REDIRECT_URI)
    code, state = fake.authorize(request.url)
    assert state == request.state
    return google.exchange_code(
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=request.code_verifier,
        nonce=request.nonce if nonce is None else nonce,
    )


def _refused(fake: FakeOIDCProvider, **kwargs: str) -> google.GoogleError:
    with pytest.raises(google.GoogleError) as info:
        _sign_in(fake, **kwargs)
    return info.value


# --- Configuration --------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "client_secret", "enabled"),
    [("id", "secret", True), ("", "secret", False), ("id", "", False), ("", "", False)],
)
def test_enabled_only_with_both_client_id_and_secret(
    settings, client_id: str, client_secret: str, enabled: bool
) -> None:
    settings.GOOGLE_CLIENT_ID = client_id
    settings.GOOGLE_CLIENT_SECRET = client_secret
    assert google.is_enabled() is enabled


def test_disabled_sign_in_refuses_to_start(settings) -> None:
    settings.GOOGLE_CLIENT_SECRET = ""
    with pytest.raises(google.GoogleError) as info:
        google.authorization_request(REDIRECT_URI)
    assert info.value.message == google.SIGN_IN_UNAVAILABLE


# --- The authorization request ----------------------------------------------------


def test_authorization_url_carries_every_parameter(google_provider: FakeOIDCProvider) -> None:
    request = google.authorization_request(REDIRECT_URI)

    assert request.url.startswith(f"{google_provider.base_url}/authorize?")
    assert _query(request.url) == {
        "response_type": "code",
        "client_id": "test-client",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": google.code_challenge(request.code_verifier),
        "code_challenge_method": "S256",
        "prompt": "select_account",
    }


def test_code_challenge_is_s256_of_the_verifier(google_provider: FakeOIDCProvider) -> None:
    request = google.authorization_request(REDIRECT_URI)

    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert _query(request.url)["code_challenge"] == expected
    # RFC 7636 §4.1: 43-128 characters of the unreserved set.
    assert 43 <= len(request.code_verifier) <= 128
    assert set(request.code_verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )


def test_state_nonce_and_verifier_are_fresh_and_long(google_provider: FakeOIDCProvider) -> None:
    first = google.authorization_request(REDIRECT_URI)
    second = google.authorization_request(REDIRECT_URI)

    for name in ("state", "nonce", "code_verifier"):
        assert getattr(first, name) != getattr(second, name)
        # 32 random bytes as unpadded base64url are 43 characters.
        assert len(getattr(first, name)) >= 43


def test_discovery_document_is_cached(google_provider: FakeOIDCProvider) -> None:
    google.authorization_request(REDIRECT_URI)
    google.authorization_request(REDIRECT_URI)

    assert len(google_provider.requests_to("/.well-known/openid-configuration")) == 1


def test_unreachable_provider_is_a_temporary_failure(
    google_provider: FakeOIDCProvider, settings
) -> None:
    google_provider.stop()

    with pytest.raises(google.GoogleError) as info:
        google.authorization_request(REDIRECT_URI)

    assert info.value.message == google.SIGN_IN_UNAVAILABLE
    assert info.value.permanent is False


# --- The code exchange ------------------------------------------------------------


def test_sign_in_returns_the_identity_with_email_lower_cased(
    google_provider: FakeOIDCProvider,
) -> None:
    google_provider.next_identity = {
        "sub": "1234",
        "email": "Dan@Example.COM",
        "email_verified": True,
        "name": "Dan Example",
    }

    claims = _sign_in(google_provider)

    assert claims == google.GoogleClaims(
        sub="1234", email="dan@example.com", email_verified=True, name="Dan Example"
    )
    (token_request,) = google_provider.requests_to("/token")
    assert token_request["method"] == "POST"
    assert token_request["form"]["grant_type"] == "authorization_code"
    assert token_request["form"]["client_secret"] == "test-secret"


def test_missing_name_becomes_empty(google_provider: FakeOIDCProvider) -> None:
    google_provider.next_identity = {"sub": "1", "email": "a@example.com", "email_verified": True}

    assert _sign_in(google_provider).name == ""


def test_keys_are_cached_between_sign_ins(google_provider: FakeOIDCProvider) -> None:
    _sign_in(google_provider)
    _sign_in(google_provider)

    assert len(google_provider.requests_to("/jwks")) == 1


@pytest.mark.parametrize(
    "forgery",
    [
        "wrong_audience",
        "wrong_nonce",
        "expired",
        "iat_in_future",
        "wrong_issuer",
        "unknown_kid",
        "alg_none",
        "alg_hs256",
        "no_id_token",
    ],
)
def test_forged_id_token_is_refused(google_provider: FakeOIDCProvider, forgery: str) -> None:
    google_provider.forge = forgery

    error = _refused(google_provider)

    assert error.message == google.SIGN_IN_FAILED
    assert error.permanent is True


def test_token_signed_with_another_key_is_refused(google_provider: FakeOIDCProvider) -> None:
    google_provider.forge = "bad_signature"

    assert _refused(google_provider).message == google.SIGN_IN_FAILED


def test_unknown_key_id_refetches_keys_once_then_refuses(
    google_provider: FakeOIDCProvider,
) -> None:
    google_provider.forge = "unknown_kid"

    assert _refused(google_provider).message == google.SIGN_IN_FAILED
    # Once from the empty cache, once more in case the key was rotated; no more.
    assert len(google_provider.requests_to("/jwks")) == 2


def test_nonce_from_another_request_is_refused(google_provider: FakeOIDCProvider) -> None:
    other = google.authorization_request(REDIRECT_URI)

    assert _refused(google_provider, nonce=other.nonce).message == google.SIGN_IN_FAILED


def test_wrong_pkce_verifier_is_refused(google_provider: FakeOIDCProvider) -> None:
    request = google.authorization_request(REDIRECT_URI)
    code, _state = google_provider.authorize(request.url)
    other = google.authorization_request(REDIRECT_URI)

    with pytest.raises(google.GoogleError) as info:
        google.exchange_code(
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=other.code_verifier,
            nonce=request.nonce,
        )

    assert info.value.message == google.SIGN_IN_FAILED
    assert info.value.permanent is True


def test_code_cannot_be_used_twice(google_provider: FakeOIDCProvider) -> None:
    request = google.authorization_request(REDIRECT_URI)
    code, _state = google_provider.authorize(request.url)
    exchange = {
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": request.code_verifier,
        "nonce": request.nonce,
    }
    google.exchange_code(**exchange)

    with pytest.raises(google.GoogleError) as info:
        google.exchange_code(**exchange)

    assert info.value.message == google.SIGN_IN_FAILED
    assert info.value.permanent is True


def test_token_endpoint_server_error_is_temporary(google_provider: FakeOIDCProvider) -> None:
    google_provider.fail_token_with = 500

    error = _refused(google_provider)

    assert error.message == google.SIGN_IN_UNAVAILABLE
    assert error.permanent is False


def test_token_endpoint_client_error_is_permanent(google_provider: FakeOIDCProvider) -> None:
    google_provider.fail_token_with = 400

    error = _refused(google_provider)

    assert error.message == google.SIGN_IN_FAILED
    assert error.permanent is True


@pytest.mark.parametrize("email_verified", [False, "true", None])
def test_unverified_email_is_refused(
    google_provider: FakeOIDCProvider, email_verified: object
) -> None:
    google_provider.next_identity = {
        "sub": "1",
        "email": "dan@example.com",
        "email_verified": email_verified,
    }

    assert _refused(google_provider).message == google.EMAIL_NOT_VERIFIED


def test_missing_email_is_refused(google_provider: FakeOIDCProvider) -> None:
    google_provider.next_identity = {"sub": "1", "email_verified": True}

    assert _refused(google_provider).message == google.SIGN_IN_FAILED


def test_sign_in_survives_key_rotation(google_provider: FakeOIDCProvider) -> None:
    _sign_in(google_provider)  # caches the current key set
    google_provider.rotate_key(keep_old=False)

    assert _sign_in(google_provider).email == "dan@example.com"
    assert len(google_provider.requests_to("/jwks")) == 2
