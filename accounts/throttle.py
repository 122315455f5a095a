"""Rate limits, counted in the cache with atomic increments.

`Limit` names a rule (how many in how long); `hit()` counts one try against
the rule for some subject (an address, a client network, a user id) and says
whether it is within the limit and, if not, how long to wait. Counting is
one atomic INCR, so thirty parallel tries against a limit of five let five
through, never six. Subjects are hashed into the key: no address or IP sits
in the cache in the clear.

If the cache is down, nothing is limited rather than everything refused.

Sign-in throttling (5 failures per account and client in 15 minutes) is the
first user of it, below.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest


@dataclass(frozen=True)
class Limit:
    """At most `max` tries per `window` seconds, per subject."""

    name: str
    max: int
    window: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends (0 when allowed)

    @property
    def minutes(self) -> int:
        """Whole minutes to wait, at least one (for "try again in N minutes")."""
        return max(1, math.ceil(self.retry_after / 60))


def _key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(f"{limit.name}|{subject}".encode()).hexdigest()
    return f"limit:{limit.name}:{digest}"


def _ttl(key: str, default: int) -> int:
    ttl = getattr(cache, "ttl", None)  # django-redis knows; local memory does not
    remaining = ttl(key) if ttl else None
    return int(remaining) if isinstance(remaining, int) and remaining > 0 else default


def hit(limit: Limit, subject: str) -> Decision:
    """Count one try by `subject`; allowed while the count is within `limit.max`."""
    key = _key(limit, subject)
    # add() starts the window (and never extends it); incr() is atomic.
    cache.add(key, 0, timeout=limit.window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.add(key, 1, timeout=limit.window)
        count = 1
    if count is None:  # the cache is down: fail open
        return Decision(True, 0, 0)
    if count <= limit.max:
        return Decision(True, count, 0)
    return Decision(False, count, _ttl(key, limit.window))


def peek(limit: Limit, subject: str) -> Decision:
    """Whether `subject` is over `limit` now, without counting a try."""
    key = _key(limit, subject)
    count = cache.get(key) or 0
    if count < limit.max:
        return Decision(True, count, 0)
    return Decision(False, count, _ttl(key, limit.window))


def clear(limit: Limit, subject: str) -> None:
    cache.delete(_key(limit, subject))


# --- Who is asking --------------------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR is the proxy's address behind nginx unless it rewrites it
    # (deploy/nginx.conf sets the real client address; see USE_X_REAL_IP).
    return (request.META.get("REMOTE_ADDR") or "unknown") if request else "unknown"


def client_network(request: HttpRequest | None) -> str:
    """The client as a limit should count it: an IPv4 address, or an IPv6 /64.

    One IPv6 subscriber usually holds a whole /64 and can rotate through it.
    """
    raw = client_ip(request)
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- Sign-in ----------------------------------------------------------------------------

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
SIGN_IN = Limit("signin-failures", MAX_FAILURES, WINDOW_SECONDS)
THROTTLED_MESSAGE = (
    "Too many failed sign-in attempts for this account. Please wait 15 minutes, or reset "
    "your password."
)


def _subject(email: str, ip: str) -> str:
    return f"{email.strip().casefold()}|{ip}"


def is_throttled(email: str, ip: str) -> bool:
    return not peek(SIGN_IN, _subject(email, ip)).allowed


def record_failure(email: str, ip: str) -> None:
    hit(SIGN_IN, _subject(email, ip))


def reset(email: str, ip: str) -> None:
    clear(SIGN_IN, _subject(email, ip))


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
