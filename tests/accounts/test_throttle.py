from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.test import Client

from accounts import throttle
from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


def sign_in(email: str, password: str, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        "/accounts/login/", {"username": email, "password": password}
    )


def fail_five_times(email: str, ip: str = "127.0.0.1") -> None:
    for _ in range(throttle.MAX_FAILURES):
        response = sign_in(email, "wrong-password", ip)
        assert response.status_code == 200
        assert throttle.THROTTLED_MESSAGE not in response.content.decode()


def test_five_failures_refuse_even_the_right_password(member: User) -> None:
    fail_five_times(member.email)

    response = sign_in(member.email, PASSWORD)

    assert response.status_code == 200
    assert throttle.THROTTLED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_throttle_is_per_account_and_address(member: User, outsider: User) -> None:
    fail_five_times(member.email)

    assert sign_in(outsider.email, PASSWORD).status_code == 302
    assert sign_in(member.email, PASSWORD, ip="10.0.0.9").status_code == 302


def test_the_throttle_ignores_the_case_of_the_email(member: User) -> None:
    fail_five_times(member.email.upper())

    assert throttle.THROTTLED_MESSAGE in sign_in(member.email, PASSWORD).content.decode()


def test_a_success_before_the_limit_resets_the_count(member: User) -> None:
    for _ in range(throttle.MAX_FAILURES - 1):
        sign_in(member.email, "wrong-password")
    assert sign_in(member.email, PASSWORD).status_code == 302

    for _ in range(throttle.MAX_FAILURES - 1):
        sign_in(member.email, "wrong-password")
    assert sign_in(member.email, PASSWORD).status_code == 302


def test_the_throttle_lifts_when_the_window_ends(member: User) -> None:
    fail_five_times(member.email)
    # The window is the cache entry's lifetime; end it as time would.
    cache.delete(throttle._key(throttle.SIGN_IN, throttle._subject(member.email, "127.0.0.1")))

    assert sign_in(member.email, PASSWORD).status_code == 302


def test_the_window_is_fifteen_minutes_in_redis(member: User) -> None:
    sign_in(member.email, "wrong-password")

    ttl = cache.ttl(throttle._key(throttle.SIGN_IN, throttle._subject(member.email, "127.0.0.1")))
    assert 14 * 60 < ttl <= 15 * 60


def test_throttling_works_on_the_local_memory_cache_too(member: User, settings) -> None:
    # Changing CACHES resets Django's cache handlers (django.test.signals).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert type(caches["default"]).__name__ == "LocMemCache"

    fail_five_times(member.email)
    assert throttle.THROTTLED_MESSAGE in sign_in(member.email, PASSWORD).content.decode()


def test_parallel_tries_never_pass_more_than_the_limit() -> None:
    from concurrent.futures import ThreadPoolExecutor

    limit = throttle.Limit("test-parallel", 5, 60)

    with ThreadPoolExecutor(max_workers=15) as pool:
        decisions = list(pool.map(lambda _: throttle.hit(limit, "someone"), range(30)))

    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.count for d in decisions) == list(range(1, 31))
    refused = [d for d in decisions if not d.allowed]
    assert all(0 < d.retry_after <= 60 and d.minutes == 1 for d in refused)


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_an_ipv6_client_counts_as_its_slash_64(address: str, counted_as: str) -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/", REMOTE_ADDR=address)

    assert throttle.client_network(request) == counted_as
