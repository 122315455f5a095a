"""A local fake OpenID Connect provider standing in for Google in tests.

A real HTTP server on 127.0.0.1 with discovery, authorize, token and JWKS
endpoints and a real RSA key, so `accounts.google` is tested end to end without
patching and without the internet. A test chooses the identity the provider
returns (`next_identity`) and how the ID token is forged (`forge`).

    def test_something(google_provider):
        request = google.authorization_request("http://testserver/cb")
        code, state = google_provider.authorize(request.url)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from accounts import google

FORGERIES = (
    "bad_signature",  # signed with another key under the published kid
    "wrong_audience",
    "wrong_nonce",
    "expired",
    "iat_in_future",
    "wrong_issuer",
    "unknown_kid",  # signed with the real key, but under a kid not in the JWKS
    "alg_none",  # unsigned
    "alg_hs256",  # HMAC "signed" with the public key: the key-confusion attack
    "no_id_token",  # token response without an id_token
)

DEFAULT_IDENTITY: dict[str, Any] = {
    "sub": "110248495921238986420",
    "email": "dan@example.com",
    "email_verified": True,
    "name": "Dan Example",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeOIDCProvider:
    def __init__(self, *, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.next_identity: dict[str, Any] = dict(DEFAULT_IDENTITY)
        self.forge: str | None = None
        self.fail_token_with: int | None = None  # an HTTP status for /token
        # Every request seen: {"method", "path", "query", "form"}.
        self.requests: list[dict[str, Any]] = []
        # Every token response given (access and ID tokens), for tests that look for them.
        self.issued: list[dict[str, Any]] = []
        # Published keys as (kid, private key); the last one signs.
        self._keys: list[tuple[str, rsa.RSAPrivateKey]] = [(self._new_kid(), _new_key())]
        self._codes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- Life cycle -----------------------------------------------------------

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (and so each test) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    # --- Test helpers ---------------------------------------------------------

    def authorize(self, url: str) -> tuple[str, str]:
        """Play the browser: open the authorize URL, return (code, state) from the redirect."""
        response = requests.get(url, allow_redirects=False, timeout=5)
        assert response.status_code == HTTPStatus.FOUND, response.text
        query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
        return query["code"], query["state"]

    def rotate_key(self, *, keep_old: bool = True) -> str:
        """Start signing with a new key; like Google, keep the old one published."""
        kid = self._new_kid()
        with self._lock:
            self._keys = [*(self._keys if keep_old else []), (kid, _new_key())]
        return kid

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    @property
    def kid(self) -> str:
        return self._keys[-1][0]

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, private_key in self._keys:
            jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    @staticmethod
    def _new_kid() -> str:
        return secrets.token_hex(20)

    # --- Endpoints ------------------------------------------------------------

    def _record(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "form": form})

    def _discovery_document(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["plain", "S256"],
        }

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        redirect_uri = query.get("redirect_uri", "")
        if (
            query.get("response_type") != "code"
            or query.get("client_id") != self.client_id
            or not redirect_uri
        ):
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_request"}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "client_id": query["client_id"],
                "redirect_uri": redirect_uri,
                "nonce": query.get("nonce", ""),
                "code_challenge": query.get("code_challenge", ""),
                "code_challenge_method": query.get("code_challenge_method", "plain"),
            }
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query['state']})}"
        return HTTPStatus.FOUND, {"Location": location}, None

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if self.fail_token_with is not None:
            status = self.fail_token_with
            error = "server_error" if status >= 500 else "invalid_grant"
            return status, {}, {"error": error}
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return HTTPStatus.UNAUTHORIZED, {}, {"error": "invalid_client"}
        with self._lock:
            # Single use: a code is gone once presented, whatever happens next.
            grant = self._codes.pop(form.get("code", ""), None)
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
            or not self._pkce_ok(grant, form.get("code_verifier", ""))
        ):
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_grant"}
        body: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
        }
        if self.forge != "no_id_token":
            body["id_token"] = self._id_token(grant)
        with self._lock:
            self.issued.append(body)
        return HTTPStatus.OK, {}, body

    @staticmethod
    def _pkce_ok(grant: dict[str, str], verifier: str) -> bool:
        if grant["code_challenge_method"] != "S256" or not verifier:
            return False
        expected = _b64url(hashlib.sha256(verifier.encode()).digest())
        return hmac.compare_digest(expected, grant["code_challenge"])

    def _id_token(self, grant: dict[str, str]) -> str:
        forge = self.forge
        assert forge is None or forge in FORGERIES, f"unknown forgery {forge!r}"
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "azp": grant["client_id"],
            "aud": grant["client_id"],
            "iat": now,
            "exp": now + 3600,
            **self.next_identity,
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        kid, key = self._keys[-1]
        if forge == "wrong_audience":
            claims["aud"] = claims["azp"] = "someone-elses-client"
        elif forge == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(32)
        elif forge == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif forge == "iat_in_future":
            claims["iat"], claims["exp"] = now + 3600, now + 7200
        elif forge == "wrong_issuer":
            claims["iss"] = "https://accounts.example.net"
        elif forge == "bad_signature":
            key = _new_key()
        elif forge == "unknown_kid":
            kid = "not-a-published-kid"
        elif forge == "alg_none":
            header = {"alg": "none", "typ": "JWT", "kid": kid}
            return f"{_b64url_json(header)}.{_b64url_json(claims)}."
        elif forge == "alg_hs256":
            secret = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}."
            signing_input += _b64url_json(claims)
            signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64url(signature)}"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        self._record(method, path, query, form)
        if method == "GET" and path == "/.well-known/openid-configuration":
            return HTTPStatus.OK, {}, self._discovery_document()
        if method == "GET" and path == "/authorize":
            return self._authorize(query)
        if method == "POST" and path == "/token":
            return self._token(form)
        if method == "GET" and path == "/jwks":
            return HTTPStatus.OK, {}, self.jwks()
        return HTTPStatus.NOT_FOUND, {}, {"error": "not_found"}


def _handler_for(provider: FakeOIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._dispatch("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            self._dispatch("POST", {k: v[0] for k, v in parse_qs(body).items()})

        def _dispatch(self, method: str, form: dict[str, str]) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, headers, body = provider.handle(method, url.path, query, form)
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; `provider.requests` is the log

    return Handler


@pytest.fixture
def google_provider(settings: Any) -> Iterator[FakeOIDCProvider]:
    """A running fake Google, with the GOOGLE_* settings pointing at it."""
    fake = FakeOIDCProvider(client_id="test-client", client_secret="test-secret")
    fake.start()
    settings.GOOGLE_CLIENT_ID = fake.client_id
    settings.GOOGLE_CLIENT_SECRET = fake.client_secret
    settings.GOOGLE_DISCOVERY_URL = fake.discovery_url
    google.clear_cache()
    try:
        yield fake
    finally:
        google.clear_cache()
        fake.stop()
