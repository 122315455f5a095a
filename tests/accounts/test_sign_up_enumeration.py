"""Sign-up does not tell who has an account.

A taken address (in any spelling) gets the same answer, the same page and
the same password hashing as a new one; its owner gets an email instead of
the stranger getting an "already exists". Nor does signing in right after
tell: a new sign-up's password works only once the address is verified, and
until then is refused word for word like a wrong one.
"""

from __future__ import annotations

import re
import threading

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from accounts import services, throttle
from accounts.models import Credential, User
from notifications import delivery
from notifications.models import Notification
from tests.conftest import PASSWORD, committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

OWNER = "bob@example.com"
STRANGER_PASSWORD = "Strangers-own-pass-93"
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


def form(email: str, **extra: str) -> dict[str, str]:
    return {
        "email": email,
        "full_name": "Click Here Evil",
        "password1": STRANGER_PASSWORD,
        "password2": STRANGER_PASSWORD,
        **extra,
    }


def page_text(response) -> str:
    return CSRF.sub(r"\1", response.content.decode())


def sign_up(email: str, **extra: str):
    """POST the sign-up form and follow to the page it ends on."""
    client = Client()
    with committed():
        response = client.post("/accounts/signup/", form(email, **extra))
    return response, page_text(client.get(response["Location"]))


@pytest.mark.parametrize("taken", [OWNER, "BOB@Example.COM", "bob@EXAMPLE.com "])
def test_a_taken_address_gets_the_same_answer_and_page_as_a_new_one(
    member: User, taken: str
) -> None:
    new_response, new_page = sign_up("newcomer@example.com")
    taken_response, taken_page = sign_up(taken)

    assert (taken_response.status_code, taken_response["Location"]) == (
        new_response.status_code,
        new_response["Location"],
    )
    assert taken_page == new_page


def test_a_taken_address_makes_no_second_account_and_changes_nothing(member: User) -> None:
    before = list(User.objects.values())
    credentials = list(Credential.objects.values_list("user_id", "password_hash"))

    sign_up("BOB@example.com", next="/circles/somewhere/")

    assert list(User.objects.values()) == before
    assert list(Credential.objects.values_list("user_id", "password_hash")) == credentials
    assert (
        Client().post("/accounts/login/", {"username": OWNER, "password": PASSWORD}).status_code
        == 302
    )


def test_the_owner_of_a_taken_address_is_told_by_email_and_the_stranger_learns_nothing(
    member: User,
) -> None:
    sign_up("Bob@Example.com")

    [message] = mail.outbox
    assert message.to == [OWNER]
    assert message.subject == "Someone tried to sign up to Men's Circle with your address"
    assert "sign in" in message.body and "Reset it" in message.body
    # Links to the pages, on SITE_URL; no token, and nothing the stranger typed.
    assert "http://testserver" not in message.body
    for path in ("/accounts/login/", "/accounts/password/reset/"):
        assert f"{django_settings.SITE_URL}{path}" in message.body
    assert "Click Here Evil" not in message.body + message.alternatives[0][0]
    assert "Hello Bob" in message.body  # the owner's own name


def test_the_owner_is_told_at_most_once_a_day(member: User) -> None:
    for spelling in (OWNER, "BOB@example.com", "bob@Example.com"):
        sign_up(spelling)

    assert [m.to for m in mail.outbox] == [[OWNER]]
    assert Notification.objects.filter(kind="sign_up_attempt").count() == 1


def test_the_daily_notice_is_per_owner(member: User, outsider: User) -> None:
    sign_up(member.email)
    sign_up(outsider.email)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([outsider.email, member.email])


def test_a_notice_is_not_sent_twice_a_day_even_when_the_cache_forgets(member: User) -> None:
    sign_up(member.email)
    throttle.clear(services.SIGN_UP_NOTICE, str(member.pk))

    sign_up(member.email)

    assert len(mail.outbox) == 1  # the message log's one-per-day key holds


def test_an_inactive_owner_is_not_written_to(member: User) -> None:
    User.objects.filter(pk=member.pk).update(is_active=False)

    response, _page = sign_up(OWNER)

    assert response["Location"] == "/accounts/signup/done/"
    assert mail.outbox == []
    assert User.objects.count() == 1


# --- The same work on both paths ------------------------------------------------------------


class CountingHasher(MD5PasswordHasher):
    """MD5 (the suite's hasher) that counts how many passwords it hashes."""

    calls = 0

    def encode(self, password: str, salt: str) -> str:
        type(self).calls += 1
        return super().encode(password, salt)


def test_both_paths_hash_the_password_the_same_number_of_times(settings, member: User) -> None:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]

    CountingHasher.calls = 0
    sign_up("newcomer@example.com")
    new = CountingHasher.calls
    CountingHasher.calls = 0
    sign_up("BOB@example.com")
    taken = CountingHasher.calls

    assert new == taken == 1


# --- Signing in afterwards tells nothing either -----------------------------------------------


def test_signing_in_after_sign_up_answers_the_same_for_a_new_and_a_taken_address(
    member: User,
) -> None:
    sign_up("newcomer@example.com")
    sign_up(OWNER)

    def sign_in(email: str) -> str:
        response = Client().post(
            "/accounts/login/", {"username": email, "password": STRANGER_PASSWORD}
        )
        assert response.status_code == 200
        return page_text(response).replace(email, "EMAIL")

    def token(email: str):
        response = APIClient().post(
            "/api/v1/auth/token/", {"email": email, "password": STRANGER_PASSWORD}, format="json"
        )
        return response.status_code, response.json()

    assert sign_in("newcomer@example.com") == sign_in(OWNER)
    assert token("newcomer@example.com") == token(OWNER)
    assert token(OWNER)[0] == 401


def test_a_right_password_of_an_unverified_sign_up_counts_as_a_failed_sign_in(
    client: Client,
) -> None:
    # Else the throttle would tell the two apart, by not counting one of them.
    sign_up("newcomer@example.com")
    for _ in range(throttle.MAX_FAILURES):
        client.post(
            "/accounts/login/",
            {"username": "newcomer@example.com", "password": STRANGER_PASSWORD},
        )

    refused = client.post(
        "/accounts/login/", {"username": "newcomer@example.com", "password": STRANGER_PASSWORD}
    )
    assert "Too many attempts. Try again in 15 minutes." in refused.content.decode()


# --- Pages by persona ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["anonymous", "member", "staff", "superuser"])
def test_the_check_your_email_page_opens_for_everyone(
    request: pytest.FixtureRequest, persona: str
) -> None:
    client = Client() if persona == "anonymous" else signed_in(request.getfixturevalue(persona))

    response = client.get("/accounts/signup/done/")

    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert client.post("/accounts/signup/done/").status_code == 405


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_a_signed_in_persona_cannot_sign_up_again(
    request: pytest.FixtureRequest, persona: str
) -> None:
    client = signed_in(request.getfixturevalue(persona))

    with committed():
        response = client.post("/accounts/signup/", form("another@example.com"))

    assert response.status_code == 302
    assert not User.objects.filter(email="another@example.com").exists()
    assert mail.outbox == []


@pytest.mark.parametrize("persona", ["anonymous", "member", "outsider"])
def test_the_verification_page_of_one_member_verifies_nothing_for_another_persona(
    request: pytest.FixtureRequest, persona: str
) -> None:
    newcomer = make_user("newcomer@example.com", from_sign_up=True)
    client = Client() if persona == "anonymous" else signed_in(request.getfixturevalue(persona))
    link = f"/accounts/verify/{services.verification_token(newcomer)}/"

    page = client.get(link)
    wrong = client.post(link, {"password": "Not-his-password-12"})

    assert page.status_code == wrong.status_code == 200
    newcomer.refresh_from_db()
    assert not newcomer.is_verified


# --- Two sign-ups of one new address at once ----------------------------------------------------


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_two_sign_ups_of_one_new_address_at_once_make_one_account() -> None:
    barrier = threading.Barrier(4)
    answers: list[tuple[int, str]] = []

    def one(spelling: str) -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post("/accounts/signup/", form(spelling))
            answers.append((response.status_code, response["Location"]))
        finally:
            connections.close_all()

    spellings = ["sam@example.org", "SAM@example.org", "ſam@example.org", "Sam@Example.org"]  # noqa: RUF001
    threads = [threading.Thread(target=one, args=(s,)) for s in spellings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [(302, "/accounts/signup/done/")] * 4
    assert User.objects.count() == 1
    assert Credential.objects.count() == 1
    delivery.deliver_due()
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    # One verification link for the account made; the others became "taken".
    assert kinds == ["sign_up_attempt", "verify_email"]
