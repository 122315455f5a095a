"""Benchmark: what a session costs per request, in `creds` only or with Redis in front.

Not a timed test: it prints the figures (and checks only that each engine
loaded the signed-in session). Run with `pytest -m perf -s`. Against the real
PostgreSQL and Redis of the test run, in this process (no HTTP server): the
session load alone, then a whole `/dashboard/` request of a member with a
circle and a meeting, so the session's share of a page can be seen. The two
engines take turns, so a busy moment of the machine falls on both.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import time as clock
from datetime import timedelta
from importlib import import_module

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User
from circles.models import Circle, Meeting, Membership
from tests.conftest import PASSWORD, capture_all_queries, make_user

pytestmark = [pytest.mark.perf, pytest.mark.django_db(databases="__all__", transaction=True)]

ENGINES = {
    "db (creds only, the site's)": "accounts.session_backends.db",
    "cached_db (Redis in front, before)": "tests.perf.cached_db_sessions",
}
ROUNDS = 5
LOADS = 400  # per round and engine
REQUESTS = 60  # per round and engine


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Milliseconds per call, for n calls."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {statistics.median(ordered):.3f} ms, p99 {p99:.3f} ms"


def queries(fn: Callable[[], object]) -> dict[str, int]:
    with capture_all_queries() as captured:
        fn()
    return {alias: len(c) for alias, c in captured.items()}


def member_with_a_circle() -> User:
    now = timezone.now()
    user = make_user("bench@example.com", email_verified_at=now)
    circle = Circle.objects.create(
        name="Bench", slug="bench", status="open", weekday=1, start_time=clock(19)
    )
    Membership.objects.create(circle=circle, user=user, status="active", joined_at=now)
    start = now + timedelta(days=1)
    Meeting.objects.create(circle=circle, starts_at=start, ends_at=start + timedelta(hours=1))
    return user


class Engine:
    """One session engine with a signed-in client and the calls to time."""

    def __init__(self, module: str, user: User) -> None:
        self.module = module
        self.store_class = import_module(module).SessionStore
        with override_settings(SESSION_ENGINE=module):
            self.client = Client()  # a new client builds its middleware with this engine
            response = self.client.post(
                "/accounts/login/", {"username": user.email, "password": PASSWORD}
            )
        assert response.status_code == 302
        self.key = self.client.cookies["sessionid"].value
        self.cached = hasattr(self.store_class(session_key=self.key), "cache_key")
        self.loads: list[float] = []
        self.misses: list[float] = []
        self.pages: list[float] = []

    def load(self) -> dict:
        return self.store_class(session_key=self.key).load()

    def load_after_a_miss(self) -> dict:
        cache.delete(self.store_class(session_key=self.key).cache_key)
        return self.load()

    def page(self) -> None:
        assert self.client.get("/dashboard/").status_code == 200

    def round(self) -> None:
        with override_settings(SESSION_ENGINE=self.module):
            self.loads += timed(self.load, LOADS)
            if self.cached:
                self.misses += timed(self.load_after_a_miss, LOADS // 4)
            self.pages += timed(self.page, REQUESTS)

    def report(self, label: str) -> list[str]:
        with override_settings(SESSION_ENGINE=self.module):
            lines = [f"{label}: session load {summary(self.loads)}; SQL {queries(self.load)}"]
            if self.cached:
                lines.append(
                    f"{label}: after a cache miss (delete + load) {summary(self.misses)}; "
                    f"SQL {queries(self.load_after_a_miss)}"
                )
            lines.append(
                f"{label}: GET /dashboard/ {summary(self.pages)}; SQL {queries(self.page)}"
            )
        return lines


def test_session_load_per_request_in_creds_and_with_redis(capsys) -> None:
    user = member_with_a_circle()
    engines = {label: Engine(module, user) for label, module in ENGINES.items()}
    for engine in engines.values():
        assert engine.load()[SESSION_KEY] == str(user.pk)
        engine.page()  # warm: connections, templates, the cache
    for _ in range(ROUNDS):
        for engine in engines.values():
            engine.round()

    def select_one() -> None:
        with connections["creds"].cursor() as cursor:
            cursor.execute("SELECT 1")

    lines = [line for label, engine in engines.items() for line in engine.report(label)]
    lines.append(f"baseline: SELECT 1 on creds {summary(timed(select_one, LOADS))}")
    lines.append(f"baseline: Redis GET {summary(timed(lambda: cache.get('bench'), LOADS))}")
    with capsys.disabled():
        print(
            f"\n[benchmark] sessions, {os.cpu_count()} cores, PostgreSQL + Redis on localhost, "
            f"{ROUNDS} rounds taking turns:"
        )
        for line in lines:
            print(f"[benchmark]   {line}")
