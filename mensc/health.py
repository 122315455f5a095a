"""Dependency checks shared by the health URLs and `manage.py health`."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger("mensc.health")

DATABASES = {"database": "default", "credentials_database": "creds"}


@dataclass(frozen=True)
class Check:
    up: bool
    latency_ms: float

    def as_dict(self) -> dict[str, object]:
        return {"status": "up" if self.up else "down", "latency_ms": self.latency_ms}


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def check_database(alias: str) -> Check:
    """SELECT 1 on the database; a kept connection found dead is dropped and tried afresh once.

    This SELECT 1 is itself the health check, so Django's own (CONN_HEALTH_CHECKS
    sends one before the first query of a request) is skipped: the probe costs
    one round trip a database, not two.
    """
    connection = connections[alias]
    start = time.perf_counter()
    kept = connection.connection is not None
    try:
        try:
            _select_one(alias)
        except Exception:
            if not kept:
                raise
            _drop(alias)  # a kept connection the database has closed: connect again
            _select_one(alias)
    except Exception:
        logger.warning("health: database %r is unreachable", alias, exc_info=True)
        return Check(up=False, latency_ms=_elapsed_ms(start))
    return Check(up=True, latency_ms=_elapsed_ms(start))


def _select_one(alias: str) -> None:
    connection = connections[alias]
    connection.health_check_done = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _drop(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # it is already dead; what matters is that the next try reconnects
        connections[alias].connection = None


def check_cache() -> Check:
    # The Redis cache swallows its errors so that an outage only degrades pages,
    # and skips Redis for a while after one (mensc.cache): a value that does not
    # come back is how we see either here.
    key = f"health:{uuid.uuid4().hex}"
    start = time.perf_counter()
    try:
        cache.set(key, "ok", timeout=10)
        up = cache.get(key) == "ok"
        cache.delete(key)
    except Exception:
        logger.warning("health: cache is unreachable", exc_info=True)
        up = False
    return Check(up=up, latency_ms=_elapsed_ms(start))


def databases_ready() -> dict[str, Check]:
    return {name: check_database(alias) for name, alias in DATABASES.items()}


def report() -> tuple[bool, dict[str, object]]:
    """Return (healthy, body) for every dependency the site needs."""
    checks = {**databases_ready(), "cache": check_cache()}
    healthy = all(check.up for check in checks.values())
    body: dict[str, object] = {
        "status": "healthy" if healthy else "unhealthy",
        "service": "mensc",
        "version": settings.VERSION,
        **{name: check.as_dict() for name, check in checks.items()},
    }
    return healthy, body
