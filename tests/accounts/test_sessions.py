"""Sessions are bearer credentials: they rest in `creds` and nowhere else.

Redis holds the cache (rate-limit counts, hashed) and no session: not its key,
not its data. So a Redis dump signs nobody in, and revoking a session is one
DELETE that no stale cached copy can undo.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django_redis import get_redis_connection

from accounts.models import Session, User
from accounts.services import sessions_revoke
from tests.conftest import capture_all_queries, signed_in
from tests.proc import DEAD_REDIS

pytestmark = pytest.mark.django_db(databases="__all__")

OLD_ENGINE = "tests.perf.cached_db_sessions"  # Redis in front, as before issue 11


def redis_holds(needle: str) -> list[bytes]:
    """The keys of this test process in Redis whose name or value holds `needle`."""
    redis = get_redis_connection("default")
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    found = []
    for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        value = redis.get(key) if redis.type(key) == b"string" else b""
        if needle.encode() in key or needle.encode() in (value or b""):
            found.append(key)
    return found


def browse(client: Client) -> str:
    for url in ("/dashboard/", "/accounts/settings/", "/circles/"):
        assert client.get(url).status_code == 200
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_signed_in_member_leaves_no_session_in_redis(member: User) -> None:
    key = browse(signed_in(member))

    assert Session.objects.filter(session_key=key, user_id=member.pk).exists()
    assert redis_holds(key) == []
    assert redis_holds("session") == []


def test_the_redis_scan_finds_a_session_the_old_engine_left_there(member: User) -> None:
    # The check above can fail: with Redis in front, the key is in Redis.
    with override_settings(SESSION_ENGINE=OLD_ENGINE):
        key = browse(signed_in(member))

        assert redis_holds(key) != []


def test_a_request_reads_its_session_with_one_query_on_creds(member: User) -> None:
    client = signed_in(member)

    with capture_all_queries() as captured:
        assert client.get("/circles/").status_code == 200

    creds = [q["sql"] for q in captured["creds"]]
    assert len(creds) == 1
    assert "accounts_session" in creds[0]


def test_a_session_revoked_while_redis_is_down_stays_revoked(member: User) -> None:
    phone, laptop = signed_in(member), signed_in(member)
    browse(phone)
    dead = {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}

    with override_settings(CACHES={"default": dead}):
        sessions_revoke(user_id=member.pk, keep=laptop.session.session_key)

    assert phone.get("/accounts/settings/").status_code == 302
    assert laptop.get("/accounts/settings/").status_code == 200


def test_the_upgrade_forgets_session_copies_the_old_engine_left_in_redis(member: User) -> None:
    with override_settings(SESSION_ENGINE=OLD_ENGINE):
        key = browse(signed_in(member))
    cache.set("unrelated", "kept")
    assert redis_holds(key) != []

    migration = import_module("accounts.migrations.0004_forget_cached_sessions")
    migration.forget_cached_sessions(None, None)

    assert redis_holds(key) == []
    assert cache.get("unrelated") == "kept"
    assert Session.objects.filter(session_key=key).exists()  # nobody is signed out
