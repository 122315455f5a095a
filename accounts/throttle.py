"""Sign-in throttling: 5 failures per account and IP address in 15 minutes.

Counts live in the cache (Redis in production, local memory in the embedded
default). If the cache is down, sign-in is not throttled rather than refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.http import HttpRequest

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
THROTTLED_MESSAGE = (
    "Too many failed sign-in attempts for this account. Please wait 15 minutes, or reset "
    "your password."
)


def _key(email: str, ip: str) -> str:
    digest = hashlib.sha256(f"{email.strip().casefold()}|{ip}".encode()).hexdigest()
    return f"signin-failures:{digest}"


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR is the proxy's address behind nginx unless it rewrites it
    # (deploy/nginx.conf sets the real client address).
    return (request.META.get("REMOTE_ADDR") or "unknown") if request else "unknown"


def is_throttled(email: str, ip: str) -> bool:
    return (cache.get(_key(email, ip)) or 0) >= MAX_FAILURES


def record_failure(email: str, ip: str) -> None:
    key = _key(email, ip)
    # add() starts the window; incr() never extends it.
    if not cache.add(key, 1, timeout=WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=WINDOW_SECONDS)


def reset(email: str, ip: str) -> None:
    cache.delete(_key(email, ip))


@contextmanager
def sign_in_attempt(
    email: str, ip: str, *, failure: type[Exception], refusal: Exception
) -> Iterator[None]:
    """Guard one sign-in: refuse when throttled, count a `failure`, reset on success."""
    if is_throttled(email, ip):
        raise refusal
    try:
        yield
    except failure:
        record_failure(email, ip)
        raise
    reset(email, ip)
