"""Sign-in throttling on every door: the sign-in page, /admin/login/ and the API token.

Per account and client network (an IPv4 address or an IPv6 /64): 5 failures in
15 minutes. Per account from every client together: 20 failures in an hour,
and the owner is told once. Counting is one atomic increment before the check.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.core.cache import cache, caches
from django.db import connections
from django.test import Client

from accounts import throttle
from accounts.models import User
from notifications.models import Notification
from tests.conftest import PASSWORD, committed, make_user

pytestmark = pytest.mark.django_db(databases="__all__")

REFUSED = "Too many attempts. Try again in 15 minutes."
WRONG = "Please enter a correct email address and password."
ADMIN_WRONG = "Please enter the correct email address and password for a staff account."


def sign_in(email: str, password: str, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        "/accounts/login/", {"username": email, "password": password}
    )


def admin_sign_in(email: str, password: str, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}
    )


def obtain(email: str, password: str, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        "/api/v1/auth/token/",
        {"email": email, "password": password},
        content_type="application/json",
    )


def fail_five_times(email: str, ip: str = "127.0.0.1") -> None:
    for _ in range(throttle.MAX_FAILURES):
        response = sign_in(email, "wrong-password", ip)
        assert response.status_code == 200
        assert WRONG in response.content.decode()


def test_five_failures_refuse_even_the_right_password(member: User) -> None:
    fail_five_times(member.email)

    response = sign_in(member.email, PASSWORD)

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert WRONG not in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_refusal_says_how_long_is_really_left(member: User) -> None:
    fail_five_times(member.email)
    key = throttle._key(throttle.SIGN_IN, throttle._subject(member.email, "127.0.0.1"))
    cache.expire(key, 61)  # as if 14 minutes had passed

    response = sign_in(member.email, PASSWORD)

    assert "Too many attempts. Try again in 2 minutes." in response.content.decode()
    cache.expire(key, 42)
    assert "Try again in 1 minute." in sign_in(member.email, PASSWORD).content.decode()


def test_the_throttle_is_per_account_and_address(member: User, outsider: User) -> None:
    fail_five_times(member.email)

    assert sign_in(outsider.email, PASSWORD).status_code == 302
    assert sign_in(member.email, PASSWORD, ip="10.0.0.9").status_code == 302


def test_an_ipv6_client_cannot_rotate_through_its_slash_64(member: User) -> None:
    fail_five_times(member.email, ip="2001:db8:1:2::1")

    refused = sign_in(member.email, PASSWORD, ip="2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert REFUSED in refused.content.decode()
    # The next /64 is somebody else.
    assert sign_in(member.email, PASSWORD, ip="2001:db8:1:3::1").status_code == 302


def test_the_throttle_ignores_the_case_of_the_email(member: User) -> None:
    fail_five_times(member.email.upper())

    assert REFUSED in sign_in(member.email, PASSWORD).content.decode()


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
    assert REFUSED in sign_in(member.email, PASSWORD).content.decode()


# --- /admin/login/ and the API share it -----------------------------------------------


def test_brute_force_on_admin_login_is_refused_even_with_the_right_password(
    superuser: User,
) -> None:
    assert admin_sign_in(superuser.email, PASSWORD, ip="10.0.0.1").status_code == 302

    for _ in range(throttle.MAX_FAILURES):
        response = admin_sign_in(superuser.email, "guess")
        assert response.status_code == 200
        assert ADMIN_WRONG in response.content.decode()
    response = admin_sign_in(superuser.email, PASSWORD)

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_admin_login_page_and_api_count_against_one_throttle(staff: User) -> None:
    for _ in range(2):
        assert ADMIN_WRONG in admin_sign_in(staff.email, "guess").content.decode()
    for _ in range(2):
        assert WRONG in sign_in(staff.email, "guess").content.decode()
    assert obtain(staff.email, "guess").status_code == 401

    assert REFUSED in admin_sign_in(staff.email, PASSWORD).content.decode()
    assert REFUSED in sign_in(staff.email, PASSWORD).content.decode()
    assert obtain(staff.email, PASSWORD).status_code == 429


def test_the_api_refusal_is_a_429_with_json_and_retry_after(member: User) -> None:
    fail_five_times(member.email)

    response = obtain(member.email, PASSWORD)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": REFUSED}
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60


def test_unknown_addresses_are_throttled_at_the_admin_too() -> None:
    for _ in range(throttle.MAX_FAILURES):
        admin_sign_in("nobody@example.com", "guess")

    assert REFUSED in admin_sign_in("nobody@example.com", "guess").content.decode()


# --- The per-account cap, across clients ---------------------------------------------

CLIENTS = [f"198.51.100.{n}" for n in range(1, 30)]


def fail_from_many_clients(email: str, failures: int) -> None:
    """`failures` wrong passwords, at most 4 per client (under the per-client limit)."""
    for n in range(failures):
        response = sign_in(email, "wrong-password", ip=CLIENTS[n // 4])
        assert WRONG in response.content.decode(), n


def test_twenty_failures_from_anywhere_refuse_the_account_everywhere(
    member: User, outsider: User
) -> None:
    fail_from_many_clients(member.email, throttle.ACCOUNT_MAX_FAILURES)

    fresh = "203.0.113.200"
    response = sign_in(member.email, PASSWORD, ip=fresh)
    assert "Too many attempts. Try again in 60 minutes." in response.content.decode()
    assert obtain(member.email, PASSWORD, ip=fresh).status_code == 429
    admin = admin_sign_in(member.email, PASSWORD, ip=fresh)
    assert "Try again in 60 minutes." in admin.content.decode()
    # Another account is not held up.
    assert sign_in(outsider.email, PASSWORD, ip=fresh).status_code == 302


def test_the_owner_is_told_once_when_the_account_cap_trips(member: User) -> None:
    fail_from_many_clients(member.email, throttle.ACCOUNT_MAX_FAILURES)
    assert not Notification.objects.filter(kind="sign_in_paused").exists()

    with committed():
        for ip in CLIENTS[-5:]:
            sign_in(member.email, "wrong-password", ip=ip)
            obtain(member.email, "wrong-password", ip=ip)

    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "paused for about 60 minutes" in mail.outbox[0].body
    assert "/accounts/password/reset/" in mail.outbox[0].body

    # An hour later (every window over) it trips again the same day: no second email.
    cache.delete_pattern("limit:*")
    with committed():
        fail_from_many_clients(member.email, throttle.ACCOUNT_MAX_FAILURES)
        sign_in(member.email, "wrong-password", ip=CLIENTS[-1])
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(user=member, kind="sign_in_paused").count() == 1


def test_an_address_without_an_account_is_capped_alike(member: User) -> None:
    # Else "60 minutes" after 20 failures would tell who has an account.
    fail_from_many_clients("nobody@example.com", throttle.ACCOUNT_MAX_FAILURES)

    response = sign_in("nobody@example.com", "wrong-password", ip="203.0.113.1")

    assert "Too many attempts. Try again in 60 minutes." in response.content.decode()
    assert not Notification.objects.exists()


def test_a_success_is_not_counted_against_the_account(member: User) -> None:
    fail_from_many_clients(member.email, throttle.ACCOUNT_MAX_FAILURES - 1)
    assert sign_in(member.email, PASSWORD, ip="203.0.113.1").status_code == 302

    response = sign_in(member.email, "wrong-password", ip="203.0.113.2")

    assert WRONG in response.content.decode()


def test_a_new_password_lifts_the_account_cap(member: User) -> None:
    fail_from_many_clients(member.email, throttle.ACCOUNT_MAX_FAILURES)
    assert REFUSED[:18] in sign_in(member.email, PASSWORD, ip="203.0.113.1").content.decode()

    member.set_password("A-new-long-password-9")  # what a reset does
    member.save()

    assert sign_in(member.email, "A-new-long-password-9", ip="203.0.113.2").status_code == 302


# --- Parallel guesses ---------------------------------------------------------------


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_thirty_parallel_wrong_passwords_get_at_most_five_checks_through() -> None:
    user = make_user("dan@example.com")
    start = threading.Barrier(30)

    def guess(n: int) -> str:
        try:
            client = Client(REMOTE_ADDR="192.0.2.50")
            start.wait()
            return client.post(
                "/accounts/login/", {"username": user.email, "password": f"guess-{n}"}
            ).content.decode()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=30) as pool:
        pages = list(pool.map(guess, range(30)))

    checked = sum(WRONG in page for page in pages)
    refused = sum(REFUSED in page for page in pages)
    assert checked == throttle.MAX_FAILURES
    assert refused == 30 - throttle.MAX_FAILURES


def test_parallel_tries_never_pass_more_than_the_limit() -> None:
    limit = throttle.Limit("test-parallel", 5, 60)

    with ThreadPoolExecutor(max_workers=15) as pool:
        decisions = list(pool.map(lambda _: throttle.hit(limit, "someone"), range(30)))

    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.count for d in decisions) == list(range(1, 31))
    refused = [d for d in decisions if not d.allowed]
    assert all(0 < d.retry_after <= 60 and d.minutes == 1 for d in refused)


def test_a_try_taken_back_frees_its_place() -> None:
    limit = throttle.Limit("test-take-back", 2, 60)
    throttle.hit(limit, "someone")
    throttle.hit(limit, "someone")
    throttle.take_back(limit, "someone")

    assert throttle.hit(limit, "someone").allowed
    assert not throttle.hit(limit, "someone").allowed
    throttle.take_back(throttle.Limit("test-never-counted", 1, 60), "someone")  # no error


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
