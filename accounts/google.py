"""Google sign-in: the one module that talks to Google.

OpenID Connect authorization-code flow with state, nonce and PKCE (S256). The
views build an `AuthorizationRequest`, keep its secrets in the session, redirect
the browser to `url`, and on the way back hand the code to `exchange_code`,
which returns verified `GoogleClaims` or raises `GoogleError`.

Everything about the provider (endpoints, issuer, signing keys) comes from the
discovery document at `GOOGLE_DISCOVERY_URL`, so tests point that setting at a
local fake provider and exercise this exact code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("mensc.google")

# Shown to users: short, and saying nothing about what exactly went wrong.
SIGN_IN_FAILED = "Google sign-in failed. Please try again."
SIGN_IN_UNAVAILABLE = "Google sign-in is unavailable right now. Please try again later."
EMAIL_NOT_VERIFIED = "Your Google account's email address is not verified, so it can't be used."

SCOPE = "openid email profile"
HTTP_TIMEOUT = 5  # seconds; a sign-in page must not hang on Google
CACHE_SECONDS = 60 * 60
# Clock skew we tolerate between us and Google when checking exp / iat.
LEEWAY_SECONDS = 60
# The only algorithm Google signs ID tokens with. Pinning it rules out "none" and
# the RS256/HS256 key-confusion trick.
ALGORITHM = "RS256"

_DISCOVERY_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class GoogleError(Exception):
    """Any failure of the Google sign-in flow. `message` is safe to show a user.

    `permanent` is False when trying again later may work (network trouble, a 5xx
    from Google), True when the same request will fail again.
    """

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def is_enabled() -> bool:
    """True only when both the client id and the client secret are configured."""
    return bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET)


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str  # where to redirect the browser
    state: str  # ties the callback to this browser session (CSRF)
    nonce: str  # ties the ID token to this request (replay)
    code_verifier: str  # PKCE: proves the code is redeemed by whoever asked for it


@dataclass(frozen=True)
class GoogleClaims:
    sub: str
    email: str  # lower-cased
    email_verified: bool
    name: str  # "" if absent


def authorization_request(redirect_uri: str) -> AuthorizationRequest:
    """Build the redirect to Google's consent screen.

    The caller must keep `state`, `nonce` and `code_verifier` server-side (the
    session) and pass them back to `exchange_code`. Raises `GoogleError` when
    Google sign-in is not configured or the discovery document can't be fetched.
    """
    _require_enabled()
    endpoint = _discovery()["authorization_endpoint"]
    # 32 random bytes each; token_urlsafe gives URL-safe text without padding.
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    # 64 bytes -> 86 characters of [A-Za-z0-9_-], inside RFC 7636's 43-128 range.
    code_verifier = secrets.token_urlsafe(64)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.GOOGLE_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(code_verifier),
            "code_challenge_method": "S256",
            "prompt": "select_account",
        }
    )
    separator = "&" if "?" in endpoint else "?"
    return AuthorizationRequest(
        url=f"{endpoint}{separator}{query}",
        state=state,
        nonce=nonce,
        code_verifier=code_verifier,
    )


def code_challenge(code_verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def exchange_code(*, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> GoogleClaims:
    """Redeem an authorization code and return the verified identity.

    `redirect_uri` must be the one given to `authorization_request`;
    `code_verifier` and `nonce` are the values it returned. Raises `GoogleError`
    on any failure: transport errors and 5xx are not permanent, everything else
    (4xx, a token that fails any check, an unverified email) is.
    """
    _require_enabled()
    document = _discovery()
    payload = _post_token(
        document["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": settings.GOOGLE_CLIENT_ID,
            "client_secret": settings.GOOGLE_CLIENT_SECRET,
            "code_verifier": code_verifier,
        },
    )
    id_token = payload.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        logger.warning("Google token response has no id_token")
        raise GoogleError(SIGN_IN_FAILED)
    claims = _verify_id_token(id_token, issuer=document["issuer"], nonce=nonce)
    return _claims_from(claims)


def clear_cache() -> None:
    """Forget the cached discovery document and keys for the configured provider."""
    url = settings.GOOGLE_DISCOVERY_URL
    cache.delete_many([_cache_key("discovery", url), _cache_key("jwks", url)])


# --- Internals ------------------------------------------------------------------


def _require_enabled() -> None:
    if not is_enabled():
        raise GoogleError(SIGN_IN_UNAVAILABLE)


def _cache_key(kind: str, url: str) -> str:
    # Hash the URL: cache backends disagree on which characters a key may hold.
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return f"accounts.google:{kind}:{digest}"


def _get_json(url: str) -> dict[str, Any]:
    """GET a JSON object from the provider; any failure is worth retrying later."""
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("Google fetch of %s failed: %s", url, type(exc).__name__)
        raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False) from exc
    if not isinstance(data, dict):
        logger.warning("Google fetch of %s returned no JSON object", url)
        raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False)
    return data


def _discovery() -> dict[str, str]:
    url = settings.GOOGLE_DISCOVERY_URL
    key = _cache_key("discovery", url)
    document = cache.get(key)
    if document is None:
        document = _get_json(url)
        if not all(isinstance(document.get(field), str) for field in _DISCOVERY_FIELDS):
            logger.warning("Google discovery document at %s lacks required fields", url)
            raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False)
        document = {field: document[field] for field in _DISCOVERY_FIELDS}
        cache.set(key, document, CACHE_SECONDS)
    return document


def _jwks(*, refresh: bool = False) -> dict[str, dict[str, Any]]:
    """The provider's signing keys by key id, from the cache unless `refresh`."""
    key = _cache_key("jwks", settings.GOOGLE_DISCOVERY_URL)
    keys = None if refresh else cache.get(key)
    if keys is None:
        document = _get_json(_discovery()["jwks_uri"])
        entries = document.get("keys")
        if not isinstance(entries, list):
            logger.warning("Google JWKS has no key list")
            raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False)
        keys = {
            entry["kid"]: entry
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str)
        }
        cache.set(key, keys, CACHE_SECONDS)
    return keys


def _signing_key(kid: str) -> Any:
    keys = _jwks()
    if kid not in keys:
        # Google rotates its keys; a new kid means our cached set is stale.
        # One refetch only, so a bogus kid can't make us hammer the endpoint.
        keys = _jwks(refresh=True)
    jwk = keys.get(kid)
    if jwk is None:
        logger.warning("Google id_token signed with unknown key id")
        raise GoogleError(SIGN_IN_FAILED)
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        logger.warning("Google key %s is not an RS256 key", kid)
        raise GoogleError(SIGN_IN_FAILED)
    try:
        return jwt.PyJWK(jwk, algorithm=ALGORITHM).key
    except jwt.PyJWTError as exc:
        logger.warning("Google key %s is unusable: %s", kid, type(exc).__name__)
        raise GoogleError(SIGN_IN_FAILED) from exc


def _post_token(url: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        response = requests.post(
            url, data=form, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"}
        )
    except requests.RequestException as exc:
        logger.warning("Google token request failed: %s", type(exc).__name__)
        raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False) from exc
    if response.status_code != 200:
        # Log only the OAuth error code; the body may echo what we sent.
        logger.warning(
            "Google token endpoint answered %s (%s)",
            response.status_code,
            _oauth_error(response),
        )
        if response.status_code >= 500:
            raise GoogleError(SIGN_IN_UNAVAILABLE, permanent=False)
        # A 4xx (bad, used or expired code, wrong verifier) fails again if retried.
        raise GoogleError(SIGN_IN_FAILED)
    try:
        payload = response.json()
    except ValueError as exc:
        logger.warning("Google token endpoint answered non-JSON")
        raise GoogleError(SIGN_IN_FAILED) from exc
    if not isinstance(payload, dict):
        raise GoogleError(SIGN_IN_FAILED)
    return payload


def _oauth_error(response: requests.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "no error code"
    return error if isinstance(error, str) else "no error code"


def _verify_id_token(id_token: str, *, issuer: str, nonce: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        logger.warning("Google id_token is malformed")
        raise GoogleError(SIGN_IN_FAILED) from exc
    # Check alg before touching keys: "none" or HS256 must never get further.
    if header.get("alg") != ALGORITHM:
        logger.warning("Google id_token has alg %r", header.get("alg"))
        raise GoogleError(SIGN_IN_FAILED)
    kid = header.get("kid")
    if not isinstance(kid, str):
        logger.warning("Google id_token has no key id")
        raise GoogleError(SIGN_IN_FAILED)
    key = _signing_key(kid)
    client_id = settings.GOOGLE_CLIENT_ID
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[ALGORITHM],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        # Signature, issuer, audience, expiry and iat are all checked here.
        logger.warning("Google id_token rejected: %s", type(exc).__name__)
        raise GoogleError(SIGN_IN_FAILED) from exc
    # OIDC Core §3.1.3.7: when azp is present it must be us.
    if "azp" in claims and claims["azp"] != client_id:
        logger.warning("Google id_token was issued to another party (azp)")
        raise GoogleError(SIGN_IN_FAILED)
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), nonce.encode()
    ):
        logger.warning("Google id_token nonce mismatch")
        raise GoogleError(SIGN_IN_FAILED)
    return claims


def _claims_from(claims: dict[str, Any]) -> GoogleClaims:
    sub, email, name = claims.get("sub"), claims.get("email"), claims.get("name")
    if not isinstance(sub, str) or not sub:
        logger.warning("Google id_token has no subject")
        raise GoogleError(SIGN_IN_FAILED)
    if not isinstance(email, str) or not email:
        # The "email" scope was refused or dropped: we can't match an account.
        logger.warning("Google id_token has no email")
        raise GoogleError(SIGN_IN_FAILED)
    # Only a verified address proves the person owns it; anything else would let
    # someone take over the account registered under that address.
    if claims.get("email_verified") is not True:
        raise GoogleError(EMAIL_NOT_VERIFIED)
    return GoogleClaims(
        sub=sub,
        email=email.strip().lower(),
        email_verified=True,
        name=name.strip() if isinstance(name, str) else "",
    )
