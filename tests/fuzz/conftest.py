"""What the fuzz tests share: the property (no 5xx, nothing unhandled) and bounded runs.

Every fuzz test is part of the normal pytest run (no marker). Hypothesis is
derandomized and keeps no example database, so a run is the same on every
machine and in CI; shrinking is off so a failure costs no more time than a
pass (the failing request is printed in full, ready to replay).
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, connection, connections, transaction
from hypothesis import HealthCheck, Phase, settings

# A deeper search by hand: FUZZ_SCALE=20 python -m pytest tests/fuzz (CI runs 1).
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    """One profile for every fuzz test; each says how many examples it runs (times SCALE)."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


class ServerErrors(logging.Handler):
    """Unhandled exceptions and ERROR log lines seen while a request was served."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name} {record.levelname}: {record.getMessage()}")

    def unhandled(self, sender: object, request: object = None, **kwargs: object) -> None:
        self.seen.append("unhandled exception:\n" + traceback.format_exc())

    def assert_none(self, what: str) -> None:
        seen, self.seen = self.seen, []
        assert not seen, f"{what}:\n" + "\n".join(seen)


# Loggers that do not pass their lines up to the root logger (mensc.settings.LOGGING).
_LOGGERS = ["", "django", "mensc", "twilio", "stripe"]


@pytest.fixture
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(handler)
    got_request_exception.connect(handler.unhandled)
    yield handler
    got_request_exception.disconnect(handler.unhandled)
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)


@pytest.fixture
def in_process() -> Iterator[None]:
    """Serve requests through the real WSGI handler inside the test's transaction.

    Django closes stale connections at the start and end of each request; inside
    the test's transaction that would end it. Django's own test client turns
    this off the same way for each request it makes.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def facilitators_group() -> Group:
    """The group with the permissions its migration gives (a flushed database lost them)."""
    if not Group.objects.filter(name="Facilitators", permissions__isnull=False).exists():
        Group.objects.filter(name="Facilitators").delete()
        migration = import_module("circles.migrations.0002_facilitators_group")
        migration.create_group(apps, SimpleNamespace(connection=connection))
    return Group.objects.get(name="Facilitators")


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example: whatever it writes, in both databases and the cache, is undone after it."""
    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(transaction.atomic(using=alias))
        try:
            yield
        finally:
            for alias in connections:
                transaction.set_rollback(True, using=alias)
            cache.delete_pattern("*")
