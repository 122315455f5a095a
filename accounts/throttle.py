"""Rate limits, counted in the cache with atomic increments.

`Limit` names a rule (how many in how long); `hit()` counts one try against
the rule for some subject (an address, a client network, a user id) and says
whether it is within the limit and, if not, how long to wait. Counting is
one atomic INCR, so thirty parallel tries against a limit of five let five
through, never six. Subjects are hashed into the key: no address or IP sits
in the cache in the clear.

If the cache is down, nothing is limited rather than everything refused.

Below the primitive: the limits on everything where a password or an email
address is tried (sign-in on every door, old-password checks, verification
resends, password-reset requests), each counted per account or address and
per client network, and the one message every refusal shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from accounts.canonical import email_key
from accounts.models import User
from notifications.services import notify


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


def take_back(limit: Limit, subject: str) -> None:
    """Uncount one try (one that turned out not to count, such as a success)."""
    with contextlib.suppress(ValueError):  # the window ended: nothing to take back
        cache.decr(_key(limit, subject))


def hit_all(*tries: tuple[Limit, str]) -> Decision:
    """Count one try against each (limit, subject); refused if any refuses.

    Every limit counts the try, refused or not: windows are fixed (counting
    never extends one), so a refused try costs nothing but its count.
    """
    decisions = [hit(limit, subject) for limit, subject in tries]
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.retry_after)
    return Decision(True, max((d.count for d in decisions), default=0), 0)


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


# --- What every refusal says ----------------------------------------------------------


def too_many(decision: Decision) -> str:
    """The answer to a refused try, with the limit's real remaining time."""
    minutes = decision.minutes
    return f"Too many attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


def _address(email: str) -> str:
    # The form an address is counted in: its canonical key, so look-alikes
    # (fullwidth letters, a Kelvin sign, a long s, a dotless i) count as the
    # address they imitate.
    return email_key(email)


@contextmanager
def attempt(*tries: tuple[Limit, str], refusal: Callable[[Decision], Exception]) -> Iterator[None]:
    """Guard one check of a secret: count it first, refuse over the limit, uncount a success.

    Counting before checking, in one atomic increment, is what keeps thirty
    parallel guesses from getting more than the limit through. An exception
    from the guarded block (a wrong password) leaves the try counted.
    """
    decision = hit_all(*tries)
    if not decision.allowed:
        raise refusal(decision)
    yield
    for limit, subject in tries:
        take_back(limit, subject)


# --- Sign-in: the page, /admin/login/ and the API token endpoint -----------------------

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
# Per account and client network: a man who mistypes is not held up by others.
SIGN_IN = Limit("signin-failures", MAX_FAILURES, WINDOW_SECONDS)
# Per account, from every client together: rotating addresses gains nothing.
ACCOUNT_MAX_FAILURES = 20
SIGN_IN_ACCOUNT = Limit("signin-account", ACCOUNT_MAX_FAILURES, 60 * 60)


def _subject(email: str, client: str) -> str:
    return f"{_address(email)}|{client}"


def _account_subject(email: str, owner: User | None) -> str:
    # An address with no account is capped the same (else the cap would tell
    # who has one). An account's count carries its credential stamp: a new
    # password (a reset) starts afresh.
    if owner is None:
        return f"address|{_address(email)}"
    return f"user|{owner.pk}|{owner.credentials_changed_at.isoformat()}"


def _owner(email: str) -> User | None:
    try:
        return User._default_manager.get_by_natural_key(email)
    except User.DoesNotExist:
        return None


@contextmanager
def sign_in_attempt(
    email: str, request: HttpRequest | None, *, refusal: Callable[[Decision], Exception]
) -> Iterator[None]:
    """Guard one sign-in by password, on any door (page, admin, API).

    Refused once the account has MAX_FAILURES failures from this client
    network in 15 minutes, or ACCOUNT_MAX_FAILURES from anywhere in an hour;
    a refusal turns away the right password too. The first refusal by the
    account cap tells the owner by email (at most once a day). A success
    clears this client's count and uncounts itself from the account's.
    """
    per_client = _subject(email, client_network(request))
    decision = hit(SIGN_IN, per_client)
    if not decision.allowed:
        raise refusal(decision)
    owner = _owner(email) if email else None
    account = _account_subject(email, owner)
    decision = hit(SIGN_IN_ACCOUNT, account)
    if not decision.allowed:
        # Exactly one try sees the count pass the cap.
        if owner is not None and decision.count == SIGN_IN_ACCOUNT.max + 1:
            sign_in_paused_notify(user=owner, minutes=decision.minutes)
        raise refusal(decision)
    yield
    clear(SIGN_IN, per_client)
    take_back(SIGN_IN_ACCOUNT, account)


def sign_in_paused_notify(*, user: User, minutes: int) -> None:
    """Tell the owner that password sign-in to his account is paused (at most once a day)."""
    notify(
        user=user,
        kind="sign_in_paused",
        subject_key=f"sign-in-paused:{timezone.now():%Y-%m-%d}",
        context={"minutes": minutes},
    )


# --- Old-password checks: password change, account deletion ----------------------------

OLD_PASSWORD = Limit("old-password", 5, 15 * 60)  # per account
OLD_PASSWORD_CLIENT = Limit("old-password-client", 20, 15 * 60)  # per client network


def old_password_check(
    user: User, request: HttpRequest | None, *, refusal: Callable[[Decision], Exception]
) -> contextlib.AbstractContextManager[None]:
    """Guard a signed-in man's check of his own password (only failures stay counted)."""
    return attempt(
        (OLD_PASSWORD, str(user.pk)),
        (OLD_PASSWORD_CLIENT, client_network(request)),
        refusal=refusal,
    )


# --- Messages asked for: verification resends, password-reset requests ------------------

RESEND = Limit("verify-resend", 3, 60 * 60)  # per address
RESEND_CLIENT = Limit("verify-resend-client", 10, 60 * 60)
RESET = Limit("reset-request", 3, 60 * 60)  # per address typed, account or not
RESET_CLIENT = Limit("reset-request-client", 10, 60 * 60)


def resend_request(email: str, request: HttpRequest | None) -> Decision:
    """Count one request for a new verification link."""
    return hit_all((RESEND, _address(email)), (RESEND_CLIENT, client_network(request)))


def reset_request(email: str, request: HttpRequest | None) -> Decision:
    """Count one password-reset request: the same whether or not an account has `email`."""
    return hit_all((RESET, _address(email)), (RESET_CLIENT, client_network(request)))


# --- Email change requests --------------------------------------------------------------

EMAIL_CHANGE = Limit("email-change", 3, 60 * 60)  # per account
EMAIL_CHANGE_TARGET = Limit("email-change-target", 3, 60 * 60)  # per new address
EMAIL_CHANGE_CLIENT = Limit("email-change-client", 10, 60 * 60)  # per client network


def email_change_request(user: User, new_email: str, request: HttpRequest | None) -> Decision:
    """Count one request to move an account to `new_email` (each sends an email somewhere)."""
    return hit_all(
        (EMAIL_CHANGE, str(user.pk)),
        (EMAIL_CHANGE_TARGET, _address(new_email)),
        (EMAIL_CHANGE_CLIENT, client_network(request)),
    )
