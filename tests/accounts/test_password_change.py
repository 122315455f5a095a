from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.tokens import password_reset_token
from tests.conftest import PASSWORD, committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_PASSWORD = "Brand-new-lantern-58"
PROTECTED = "/accounts/password/change/"


def is_signed_in(client: Client) -> bool:
    return client.get(PROTECTED).status_code == 200


def change_password_via_page(client: Client) -> None:
    response = client.post(
        PROTECTED,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def reset_link(email: str) -> str:
    mail.outbox.clear()
    with committed():
        Client().post("/accounts/password/reset/", {"email": email})
    assert len(mail.outbox) == 1
    return re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]


def test_changing_password_signs_out_other_sessions_but_keeps_this_one(member: User) -> None:
    here, elsewhere = signed_in(member), signed_in(member)
    assert is_signed_in(elsewhere)

    change_password_via_page(here)

    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert User.objects.get(pk=member.pk).check_password(NEW_PASSWORD)


def test_a_password_set_outside_a_request_signs_out_every_session(member: User) -> None:
    client = signed_in(member)

    member.set_password(NEW_PASSWORD)
    member.save()

    assert not is_signed_in(client)


def test_wrong_old_password_changes_nothing(member: User) -> None:
    client = signed_in(member)
    stamp = member.credentials_changed_at

    response = client.post(
        PROTECTED,
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content
    member.refresh_from_db()
    assert member.credentials_changed_at == stamp
    assert member.check_password(PASSWORD)


def test_reset_link_sets_a_new_password(member: User) -> None:
    client = Client()
    response = client.get(reset_link(member.email), follow=True)
    assert response.context["validlink"]

    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).check_password(NEW_PASSWORD)


def test_an_old_reset_link_is_refused_after_a_password_change(member: User) -> None:
    link = reset_link(member.email)
    member.set_password(NEW_PASSWORD)
    member.save()

    response = Client().get(link, follow=True)

    assert response.status_code == 200
    assert not response.context["validlink"]
    assert b"This link no longer works" in response.content


def test_a_reset_link_works_once(member: User) -> None:
    link = reset_link(member.email)
    client = Client()
    response = client.get(link, follow=True)
    client.post(
        response.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    response = Client().get(link, follow=True)

    assert not response.context["validlink"]


def test_reset_request_gives_the_same_answer_for_unknown_emails(member: User) -> None:
    mail.outbox.clear()
    with committed():
        known = Client().post("/accounts/password/reset/", {"email": member.email})
        unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mail.outbox) == 1


def test_token_generator_hashes_the_stamp_not_a_password() -> None:
    user = make_user("hal@example.com")
    token = password_reset_token.make_token(user)
    assert password_reset_token.check_token(user, token)

    user.set_unusable_password()
    user.save()

    assert not password_reset_token.check_token(user, token)
