"""Limits where a password is checked again or a message is asked for.

Old-password checks (password change, account deletion): 5 failures per
account in 15 minutes, 20 per client network. Verification resends and
password-reset requests: 3 an hour per address, 10 per client network. The
reset page does the same work whether or not the address has an account.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts import throttle
from accounts.forms import WRONG_PASSWORD
from accounts.models import User
from tests.conftest import PASSWORD, capture_all_queries, committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

REFUSED_15 = "Too many attempts. Try again in 15 minutes."
REFUSED_60 = "Too many attempts. Try again in 60 minutes."
NEW_PASSWORD = "Brand-new-lantern-58"
OLD_WRONG = "Your old password was entered incorrectly"


def change_password(client: Client, old: str):
    return client.post(
        "/accounts/password/change/",
        {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def delete_account(client: Client, password: str):
    return client.post("/accounts/settings/delete/", {"password": password})


# --- Old-password checks ---------------------------------------------------------------


def test_five_wrong_old_passwords_refuse_the_right_one(member: User) -> None:
    client = signed_in(member)
    for _ in range(5):
        assert OLD_WRONG in change_password(client, "guess").content.decode()

    response = change_password(client, PASSWORD)

    assert response.status_code == 200
    assert REFUSED_15 in response.content.decode()
    assert User.objects.get(pk=member.pk).check_password(PASSWORD)


def test_a_right_old_password_is_not_counted(member: User) -> None:
    client = signed_in(member)
    for _ in range(4):
        change_password(client, "guess")
    assert change_password(client, PASSWORD).status_code == 302

    # Four failures, not five: this one is still checked.
    assert OLD_WRONG in change_password(client, "guess").content.decode()


def test_deletion_and_password_change_share_the_old_password_limit(member: User) -> None:
    client = signed_in(member)
    for _ in range(3):
        errors = delete_account(client, "guess").context["form"].errors["password"]
        assert errors == [WRONG_PASSWORD]
    for _ in range(2):
        change_password(client, "guess")

    response = delete_account(client, PASSWORD)

    assert response.context["form"].errors["password"] == [REFUSED_15]
    assert User.objects.filter(pk=member.pk).exists()


def test_old_password_guesses_are_limited_per_client_across_accounts(member: User) -> None:
    # 5 accounts x 4 guesses from one network: under each account's limit.
    for n in range(5):
        client = signed_in(make_user(f"guesser{n}@example.com"))
        for _ in range(4):
            assert OLD_WRONG in change_password(client, "guess").content.decode()

    response = change_password(signed_in(member), PASSWORD)

    assert REFUSED_15 in response.content.decode()
    other_network = Client(REMOTE_ADDR="10.9.9.9")
    other_network.force_login(member)
    assert change_password(other_network, PASSWORD).status_code == 302


def test_the_admins_password_change_goes_to_the_limited_page(staff: User) -> None:
    client = signed_in(staff)

    response = client.get("/admin/password_change/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/"


# --- Verification resends --------------------------------------------------------------


def resend(client: Client):
    with committed():
        return client.post("/accounts/verify/resend/", follow=True)


def test_three_resends_an_hour_then_a_clear_refusal(member: User) -> None:
    client = signed_in(member)
    for _ in range(3):
        assert f"We sent a new link to {member.email}." in resend(client).content.decode()

    response = resend(client)

    assert REFUSED_60 in response.content.decode()
    assert len(mail.outbox) == 3


def test_resends_are_limited_per_client_network() -> None:
    for n in range(10):
        resend(signed_in(make_user(f"new{n}@example.com")))
    assert len(mail.outbox) == 10

    response = resend(signed_in(make_user("eleventh@example.com")))

    assert REFUSED_60 in response.content.decode()
    assert len(mail.outbox) == 10


# --- Password-reset requests -----------------------------------------------------------


def ask_reset(email: str, ip: str = "127.0.0.1"):
    with committed():
        return Client(REMOTE_ADDR=ip).post("/accounts/password/reset/", {"email": email})


@pytest.mark.parametrize("email", ["bob@example.com", "nobody@example.com"])
def test_three_reset_requests_an_hour_per_address(member: User, email: str) -> None:
    for n in range(3):
        assert ask_reset(email, ip=f"10.0.0.{n}").status_code == 302

    refused = ask_reset(email.upper(), ip="10.0.0.9")

    assert refused.status_code == 200
    assert REFUSED_60 in refused.content.decode()
    assert len(mail.outbox) == (3 if email == member.email else 0)


def test_reset_requests_are_limited_per_client_network(member: User) -> None:
    for n in range(10):
        assert ask_reset(f"someone{n}@example.com").status_code == 302

    refused = ask_reset(member.email)

    assert REFUSED_60 in refused.content.decode()
    assert mail.outbox == []
    assert ask_reset(member.email, ip="10.0.0.1").status_code == 302
    assert len(mail.outbox) == 1


def test_the_reset_page_answers_the_same_for_any_address(member: User) -> None:
    def pages(email: str) -> tuple[int, str, str]:
        client = Client()
        with committed():
            response = client.post("/accounts/password/reset/", {"email": email}, follow=True)
        [(url, status)] = response.redirect_chain
        # The page carries the visitor's own CSRF token; the rest must match.
        page = re.sub(r'"X-CSRFToken": "\w+"', "", response.content.decode())
        return status, url, page

    assert pages(member.email) == pages("nobody@example.com")
    assert len(mail.outbox) == 1


def test_the_reset_request_does_the_same_work_whether_or_not_the_address_exists(
    member: User, settings
) -> None:
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

    def request(email: str) -> dict[str, list[str]]:
        with capture_all_queries() as queries:
            response = Client().post("/accounts/password/reset/", {"email": email})
        assert response.status_code == 302
        return {alias: [q["sql"] for q in captured] for alias, captured in queries.items()}

    known, unknown = request(member.email), request("nobody@example.com")

    def shape(sql: list[str]) -> list[str]:  # the statements, values aside
        return [re.sub(r"'[^']*'", "?", s) for s in sql]

    assert {a: shape(s) for a, s in known.items()} == {a: shape(s) for a, s in unknown.items()}
    # The page never looks the address up; it queues it, and that is all.
    every = [sql for statements in known.values() for sql in statements]
    assert not [sql for sql in every if "accounts_user" in sql]
    assert [sql.split()[0] for sql in every] == ["INSERT"]
    assert DBTaskResult.objects.count() == 2

    # The worker looks the addresses up and sends the one link. (Its own run
    # loop closes the database connection, which this test's transaction needs.)
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )

    def run_queued() -> None:
        with committed():
            for row in DBTaskResult.objects.ready():
                worker.run_task(row)

    run_queued()  # the two look-ups: one queues a message
    assert mail.outbox == []
    run_queued()  # its delivery
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 3


def test_a_refused_reset_request_queues_nothing(member: User, settings) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    for _ in range(throttle.RESET.max):
        Client().post("/accounts/password/reset/", {"email": member.email})

    Client().post("/accounts/password/reset/", {"email": member.email})

    assert DBTaskResult.objects.count() == throttle.RESET.max
