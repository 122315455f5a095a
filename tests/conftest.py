from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from accounts.models import User

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
    """A client signed in through the real sign-in form, so a real session exists."""
    client = Client()
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


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
