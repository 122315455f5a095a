"""The Redis cache behind a circuit breaker: a Redis that hangs costs one timeout, not one a call.

django-redis with ``IGNORE_EXCEPTIONS`` already turns an outage into misses,
but each call still waits out the socket timeout, and a page makes several
cache calls: with Redis hung, every page took seconds. Here, once a call
fails to reach Redis (a timeout or a connection error), every cache call of
the process is skipped for ``BREAKER_SECONDS``: reads miss, writes are
dropped, counters answer ``None``, exactly as django-redis answers for an
outage, only at once. Then one call goes through as a probe: if Redis
answers, the cache is back; if not, another cool-off. One line is logged
when the breaker opens and one when it closes, instead of one per call.

The state is per process, shared by its threads (Django's cache objects are
per thread), keyed by the Redis location. A cache that cannot be read makes
``circles.caching`` compute pages fresh, so skipping it is always safe.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("mensc.cache")

# What says Redis is unreachable. A refused command (ResponseError) is an answer.
OUTAGES = (RedisConnectionError, RedisTimeoutError, TimeoutError)
DEFAULT_BREAKER_SECONDS = 5.0


class CacheSkipped(RedisConnectionError):
    """Raised in place of a call while the breaker is open (an outage, without the wait)."""


class Breaker:
    """Closed, open until a time, or open with one probe in flight."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> bool:
        """Whether a call may go to Redis now: always when closed, one probe after the cool-off."""
        if self._open_until is None:
            return True
        with self._lock:
            if self._open_until is None:
                return True
            if self._probing or time.monotonic() < self._open_until:
                return False
            self._probing = True
            return True

    def failed(self, error: BaseException) -> None:
        with self._lock:
            opening = self._open_until is None
            self._open_until = time.monotonic() + self.seconds
            self._probing = False
        if opening:
            logger.warning(
                "Redis at %s did not answer (%s: %s): the cache is skipped for %g s",
                self.name,
                type(error).__name__,
                error,
                self.seconds,
            )
        else:
            logger.debug("Redis at %s still does not answer", self.name)

    def succeeded(self) -> None:
        if self._open_until is None:
            return
        with self._lock:
            if self._open_until is None:
                return
            self._open_until = None
            self._probing = False
        logger.warning("Redis at %s answers again: the cache is back", self.name)


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker(location: str, seconds: float = DEFAULT_BREAKER_SECONDS) -> Breaker:
    """The process's breaker for the Redis at ``location`` (made on first use)."""
    with _breakers_lock:
        if location not in _breakers:
            _breakers[location] = Breaker(_without_password(location), seconds)
        return _breakers[location]


def _without_password(location: str) -> str:
    # The URL may hold Redis's password; the log gets where, never how.
    parts = urlsplit(location)
    return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path


# A guarded call made inside another (add() calls set(), set_many() calls set())
# is counted once, by the outer one: else an inner call would be refused while
# its outer call is the probe.
_inside = threading.local()
F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    @functools.wraps(method)
    def guarded(self: BreakerClient, *args: Any, **kwargs: Any) -> Any:
        if getattr(_inside, "call", False):
            return method(self, *args, **kwargs)
        if not self.breaker.allow():
            raise ConnectionInterrupted(connection=None) from CacheSkipped("the cache is skipped")
        _inside.call = True
        error: BaseException | None = None
        try:
            return method(self, *args, **kwargs)
        except ConnectionInterrupted as interrupted:
            error = interrupted.__cause__
            if not isinstance(error, OUTAGES):
                # django-redis would have logged it; its own logging is off (settings)
                # so that skipped calls are not logged one by one.
                logger.error("Redis refused a cache call: %s", error)
            raise
        finally:
            _inside.call = False
            if isinstance(error, OUTAGES):
                self.breaker.failed(error)
            else:
                self.breaker.succeeded()

    return guarded  # type: ignore[return-value]


# Every call of Django's cache API, and django-redis's extras that talk to Redis
# at once (not the lazy iterators, nor lock(), which nothing here uses).
GUARDED = (
    "get",
    "set",
    "add",
    "touch",
    "delete",
    "get_many",
    "set_many",
    "delete_many",
    "delete_pattern",
    "clear",
    "has_key",
    "incr",
    "decr",
    "incr_version",
    "keys",
    "ttl",
    "pttl",
    "expire",
    "expire_at",
    "pexpire",
    "pexpire_at",
    "persist",
)


class BreakerClient(DefaultClient):
    """django-redis's client behind the process's breaker for its Redis.

    ``OPTIONS["BREAKER_SECONDS"]``: how long the cache is skipped after Redis
    fails to answer, before one call probes it again.
    """

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        seconds = float(self._options.get("BREAKER_SECONDS", DEFAULT_BREAKER_SECONDS))
        self.breaker = breaker(",".join(self._server), seconds)


for _name in GUARDED:
    setattr(BreakerClient, _name, _guarded(getattr(DefaultClient, _name)))
