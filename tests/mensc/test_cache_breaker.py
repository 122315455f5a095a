"""A Redis that hangs or is gone costs one timeout, then the cache is skipped for a while.

Real sockets throughout: a Redis that takes connections and never answers
(tests/fakes/redis.py, a proxy in front of the real Redis that can hang), a
port where nothing listens, and the real Redis for the recovery.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django_redis.cache import RedisCache

from circles import caching
from mensc import health
from mensc.cache import breaker
from tests.conftest import PASSWORD, make_user
from tests.fakes.redis import HangingRedis
from tests.proc import child_env, client_run

TIMEOUT = 0.3
COOL_OFF = 0.8
# Long enough that nothing in a test reaches the end of the cool-off unless it waits.
LONG_COOL_OFF = 60


def options(cool_off: float = COOL_OFF) -> dict[str, object]:
    return {
        **settings.CACHES["default"]["OPTIONS"],
        "SOCKET_TIMEOUT": TIMEOUT,
        "SOCKET_CONNECT_TIMEOUT": TIMEOUT,
        "BREAKER_SECONDS": cool_off,
    }


def redis_cache(location: str, cool_off: float = COOL_OFF) -> RedisCache:
    """The production backend and client, on ``location``."""
    config = {**settings.CACHES["default"], "LOCATION": location, "OPTIONS": options(cool_off)}
    return RedisCache(location, config)


@pytest.fixture
def hanging() -> Iterator[HangingRedis]:
    server = HangingRedis(settings.CACHES["default"]["LOCATION"])
    yield server
    server.close()


@pytest.fixture
def cache_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mensc.cache")
    return caplog


def lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def settle() -> None:
    """Give the fake's threads time to see a connection that a client may have made."""
    time.sleep(0.1)


def every_kind_of_call(cache: RedisCache) -> list[object]:
    return [
        cache.get("k", "miss"),
        cache.set("k", 1),
        cache.add("k", 1),
        cache.get_many(["k", "j"]),
        cache.set_many({"k": 1}),
        cache.delete("k"),
        cache.incr("n"),
        cache.has_key("k"),
    ]


# What django-redis answers for an outage (IGNORE_EXCEPTIONS), given at once.
MISSES = ["miss", None, None, {}, None, None, None, None]


def test_a_hung_redis_costs_one_timeout_then_is_skipped_until_one_probe(
    hanging: HangingRedis, cache_log: pytest.LogCaptureFixture
) -> None:
    cache = redis_cache(hanging.url)

    started = time.monotonic()
    assert cache.get("k") is None
    waited = time.monotonic() - started

    state = breaker(hanging.url)
    assert state.is_open
    assert waited >= TIMEOUT * 0.9  # it did ask Redis, and waited
    assert hanging.connections == 1
    sent = hanging.bytes_received

    started = time.monotonic()
    for _ in range(25):
        assert every_kind_of_call(cache) == MISSES
    skipped = time.monotonic() - started
    settle()
    # 200 calls, none of which went to Redis, in less time than one timeout.
    assert (hanging.connections, hanging.bytes_received) == (1, sent)
    assert skipped < TIMEOUT

    time.sleep(COOL_OFF)
    assert cache.get("k", "miss") == "miss"  # the probe: it waits out one timeout
    assert hanging.connections == 2
    assert state.is_open
    assert cache.get("k", "miss") == "miss"  # and the cool-off starts again
    settle()
    assert hanging.connections == 2
    assert len(lines(cache_log, "did not answer")) == 1
    assert lines(cache_log, "answers again") == []


def test_a_dead_port_opens_the_breaker_and_nothing_connects_until_the_probe(
    cache_log: pytest.LogCaptureFixture,
) -> None:
    # Bound but not listening: a connection is refused, as by a stopped Redis.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    location = f"redis://127.0.0.1:{dead.getsockname()[1]}/0"
    cache = redis_cache(location)
    try:
        assert cache.set("k", 1) is None
        assert breaker(location).is_open

        # Now something listens there: a call that tried to connect would be seen.
        dead.listen(8)
        dead.settimeout(0.2)
        for _ in range(25):
            assert every_kind_of_call(cache) == MISSES
        with pytest.raises(TimeoutError):
            dead.accept()

        time.sleep(COOL_OFF)
        assert cache.get("k") is None  # the probe connects (and is never answered)
        probe, _ = dead.accept()
        probe.close()
    finally:
        dead.close()
    assert len(lines(cache_log, "did not answer")) == 1


def test_the_breaker_closes_when_redis_answers_again(
    hanging: HangingRedis, cache_log: pytest.LogCaptureFixture
) -> None:
    cache = redis_cache(hanging.url)
    assert cache.set("k", "before") is None
    assert breaker(hanging.url).is_open

    hanging.hanging = False  # Redis is back; the breaker does not know yet
    assert cache.get("k", "skipped") == "skipped"
    time.sleep(COOL_OFF)

    assert cache.set("k", "after") is True  # the probe reaches the real Redis
    assert not breaker(hanging.url).is_open
    assert cache.get("k") == "after"
    assert cache.incr("n", ignore_key_check=True) == 1
    assert len(lines(cache_log, "did not answer")) == 1
    assert len(lines(cache_log, "answers again")) == 1
    cache.delete_many(["k", "n"])


def test_a_redis_that_hangs_mid_use_is_skipped_after_one_timeout(hanging: HangingRedis) -> None:
    hanging.hanging = False
    cache = redis_cache(hanging.url)
    assert cache.set("k", "v") is True
    assert cache.get("k") == "v"

    hanging.hanging = True  # the pooled connection now goes unanswered
    assert cache.get("k") is None
    assert breaker(hanging.url).is_open
    assert cache.get("k", "skipped") == "skipped"
    hanging.hanging = False
    cache.delete("k")  # skipped: the key ages out of the real Redis on its own


# --- The site with its cache hung ---------------------------------------------------------


@pytest.fixture
def hung_cache(hanging: HangingRedis, settings) -> HangingRedis:
    """The default cache pointed at the hanging Redis (a settings change, as a deploy's)."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": hanging.url,
            "OPTIONS": options(LONG_COOL_OFF),
        }
    }
    return hanging


@pytest.mark.django_db(databases="__all__")
def test_with_the_breaker_open_generations_are_unknown_and_pages_made_fresh(
    hung_cache: HangingRedis,
) -> None:
    assert caching.generations([caching.DIRECTORY, caching.SITE]) is None
    assert breaker(hung_cache.url).is_open
    made: list[int] = []
    for _ in range(3):
        assert caching.generations([caching.DIRECTORY]) is None
        caching.cached("page", lambda: made.append(1), scopes=[caching.DIRECTORY])
    assert made == [1, 1, 1]
    settle()
    assert hung_cache.connections == 1


@pytest.mark.django_db(databases="__all__")
def test_health_says_the_cache_is_down_while_the_breaker_is_open_and_ready_stays_200(
    hung_cache: HangingRedis,
) -> None:
    first = health.check_cache()
    assert not first.up
    assert breaker(hung_cache.url).is_open

    again = health.check_cache()
    assert not again.up
    assert again.latency_ms < first.latency_ms  # skipped, not waited for

    client = Client()
    report = client.get("/api/v1/health")
    assert report.status_code == 503
    assert report.json()["cache"]["status"] == "down"
    assert report.json()["database"]["status"] == "up"
    ready = client.get("/api/v1/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    settle()
    assert hung_cache.connections == 1


@pytest.mark.django_db(databases="__all__")
def test_pages_and_a_sign_in_answer_with_redis_hung(hung_cache: HangingRedis) -> None:
    make_user("dan@example.com")
    client = Client()
    assert client.get("/").status_code == 200
    assert client.get("/circles/").status_code == 200
    # Sign-in counts tries in the cache: the first count waits out the timeout.
    signing_in = client.post(
        "/accounts/login/", {"username": "dan@example.com", "password": PASSWORD}
    )
    assert signing_in.status_code == 302
    assert breaker(hung_cache.url).is_open
    for url in ("/", "/circles/", "/dashboard/"):
        assert client.get(url).status_code == 200
    settle()
    assert hung_cache.connections == 1  # one timeout; after it, nothing asked Redis


def test_production_settings_put_the_breaker_in_front_of_redis(
    django_db_setup, hanging: HangingRedis
) -> None:
    """mensc.settings as deployed, with the cache's timeouts from the environment."""
    env = child_env(
        REDIS_URL=hanging.url,
        CACHE_SOCKET_TIMEOUT=str(TIMEOUT),
        CACHE_CONNECT_TIMEOUT=str(TIMEOUT),
        CACHE_BREAKER_SECONDS=str(LONG_COOL_OFF),
    )
    steps = [
        {"do": "get", "path": "/"},
        {"do": "create_user", "email": "ed@example.com", "password": PASSWORD},
        {
            "do": "post",
            "path": "/accounts/login/",
            "data": {"username": "ed@example.com", "password": PASSWORD},
        },
        *({"do": "get", "path": path} for path in ("/circles/", "/dashboard/", "/")),
        {"do": "get", "path": "/api/v1/health"},
        {"do": "get", "path": "/api/v1/health/ready"},
    ]

    (home, signing_in, *pages, report, ready), stderr = client_run(steps, env)

    assert home["status"] == 200
    assert signing_in["status"] == 302
    assert [page["status"] for page in pages] == [200, 200, 200]
    assert report["status"] == 503
    assert report["json"]["cache"]["status"] == "down"
    assert ready["status"] == 200
    settle()
    assert hanging.connections == 1  # one timeout, then every call skipped
    assert stderr.count("did not answer") == 1, stderr
