from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import TOTP

from accounts import two_factor
from accounts.models import TOTPDevice, User

PASSWORD = "Quiet-river-stone-47"


@pytest.fixture(autouse=True, scope="session")
def _forget_cache_keys_at_the_end() -> Iterator[None]:
    yield
    cache.delete_pattern("*")


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    # Real Redis is shared by every test (and by parallel runs): start clean,
    # deleting only this run's keys (its own prefix) rather than flushing.
    cache.delete_pattern("*")
    yield


def make_user(email: str, *, password: str | None = PASSWORD, **extra: object) -> User:
    return User.objects.create_user(
        email, password, full_name=extra.pop("full_name", "Test Man"), **extra
    )


@pytest.fixture
def member(db: None) -> User:
    return make_user("bob@example.com", full_name="Bob Member")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user("charlie@example.com", full_name="Charlie Outsider")


@pytest.fixture
def staff(db: None) -> User:
    """Staff without any permission: a facilitator before he is given a circle."""
    return make_user("frank@example.com", full_name="Frank Facilitator", is_staff=True)


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("alice@example.com", PASSWORD, full_name="Alice Admin")


def signed_in(user: User) -> Client:
    """A client signed in through the real sign-in form, so a real session exists.

    Staff (and anyone with two-factor on) also pass the real code page, with an
    authenticator given to them here if they have none (tests/accounts/
    test_two_factor.py enrols through the pages).
    """
    client = Client()
    needs_code = two_factor.is_required(user) or two_factor.is_on(user)
    if needs_code:
        device = give_authenticator(user)
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    if needs_code:
        response = client.post("/accounts/two-factor/verify/", {"code": totp_code(device.key)})
        assert response.status_code == 302, response.content
        assert "/two-factor/" not in response["Location"], response["Location"]
    return client


def force_signed_in(user: User, client: Client | None = None) -> Client:
    """A session for `user` without the forms, second factor passed.

    For tests where signing in is not the point (fuzzing, admin inputs); the
    sign-in and two-factor pages are tested through `signed_in`.
    """
    client = client or Client()
    client.force_login(user)
    session = client.session
    two_factor.session_passed(session)
    session.save()
    return client


def totp_code(key: str, *, at: float | None = None) -> str:
    """The code an authenticator app shows now (or at Unix time `at`) for a hex key."""
    totp = TOTP(bytes.fromhex(key), step=two_factor.STEP, digits=two_factor.DIGITS)
    if at is not None:
        totp.time = at
    return f"{totp.token():0{two_factor.DIGITS}d}"


def give_authenticator(user: User) -> TOTPDevice:
    """A confirmed authenticator for `user`, ready for a fresh code (test shortcut)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user_id=user.pk,
        defaults={"key": "3132333435363738393031323334353637383930"},
    )
    if device.confirmed_at is None:
        device.confirmed_at = timezone.now()
    # Each sign-in of a test may fall in the same 30 seconds: forget the last code used.
    device.last_t = -1
    device.save()
    return device


@contextmanager
def capture_all_queries() -> Iterator[dict[str, CaptureQueriesContext]]:
    """Capture the SQL of every database, not just `default`."""
    with ExitStack() as stack:
        yield {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in connections
        }


def committed():
    """Run what the block leaves for after commit (message delivery), as a commit would.

    Tests run inside a transaction that never commits, so without this no
    on_commit callback would ever run.
    """
    return TestCase.captureOnCommitCallbacks(execute=True)
