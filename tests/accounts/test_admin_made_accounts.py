"""Accounts staff make: an invitation to choose a password, and marking an address verified."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from djstripe.models import Customer

from accounts import admin as user_admin
from accounts.models import Session, User
from accounts.tokens import INVITATION_DAYS, invitation_token, password_reset_token
from billing.erasure import STRIPE_UNREACHABLE
from tests.conftest import PASSWORD, committed, make_user, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_PASSWORD = "Calm-granite-valley-61"


def invitation_link(settings) -> str:
    [message] = [m for m in mail.outbox if "choose your password" in m.subject]
    match = re.search(re.escape(settings.SITE_URL) + r"(/accounts/invitation/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def add_in_the_admin(superuser: User, **fields: str) -> User:
    form = {"email": "newman@example.com", "full_name": "New Man", "usable_password": "false"}
    with committed():
        response = signed_in(superuser).post("/admin/accounts/user/add/", {**form, **fields})
    assert response.status_code == 302
    return User.objects.get(email=form["email"])


def choose_password(link: str) -> Client:
    client = Client()
    form_page = client.get(link)  # the token moves to the session
    assert form_page.status_code == 302
    done = client.post(
        form_page["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302, done.content
    assert done["Location"] == "/accounts/password/reset/complete/"
    return client


def test_an_account_made_in_the_admin_is_invited_to_choose_a_password(
    superuser: User, settings
) -> None:
    mail.outbox.clear()
    user = add_in_the_admin(superuser)

    link = invitation_link(settings)
    assert mail.outbox[-1].to == [user.email]
    assert find_in_database("default", [link.rsplit("/", 2)[-2]]) == []  # minted, never stored
    assert not user.has_usable_password() and not user.is_verified

    choose_password(link)

    user.refresh_from_db()
    assert user.is_verified  # choosing it through the emailed link proved the mailbox
    assert user.check_password(NEW_PASSWORD)
    signed = Client()
    assert (
        signed.post(
            "/accounts/login/", {"username": user.email, "password": NEW_PASSWORD}
        ).status_code
        == 302
    )
    # The link works once.
    assert "no longer works" in Client().get(link, follow=True).content.decode()


def test_an_invitation_outlives_a_reset_link_but_not_a_week(
    member: User, monkeypatch, settings
) -> None:
    now = invitation_token._now()
    token = invitation_token.make_token(member)

    monkeypatch.setattr(invitation_token, "_now", lambda: now + timedelta(days=2))
    assert invitation_token.check_token(member, token)
    assert settings.PASSWORD_RESET_TIMEOUT < 2 * 24 * 60 * 60  # a reset link would be dead
    monkeypatch.setattr(
        invitation_token, "_now", lambda: now + timedelta(days=INVITATION_DAYS, minutes=1)
    )
    assert not invitation_token.check_token(member, token)


def test_a_reset_token_is_no_invitation_and_the_other_way_round(member: User) -> None:
    assert not invitation_token.check_token(member, password_reset_token.make_token(member))
    assert not password_reset_token.check_token(member, invitation_token.make_token(member))
    for junk in ("", "abc", "zzzzzzzzzzzzzzzzzzzz-1", "1-2-3"):
        assert not invitation_token.check_token(member, junk)


def test_staff_can_send_an_invitation_again(superuser: User, settings) -> None:
    user = add_in_the_admin(superuser)
    mail.outbox.clear()

    with committed():
        signed_in(superuser).post(
            "/admin/accounts/user/", {"action": "invite", "_selected_action": [user.pk]}
        )

    choose_password(invitation_link(settings))
    assert LogEntry.objects.filter(
        object_id=str(user.pk), change_message=user_admin.INVITATION_SENT
    ).exists()


# --- Marking an address verified ----------------------------------------------------


@pytest.fixture
def sign_up(db) -> User:
    """A man who signed up and never clicked his link: his password does not sign in yet."""
    return make_user("sid@example.com", full_name="Sid Signup", from_sign_up=True)


@pytest.fixture
def user_keeper(db) -> User:
    """Staff given "Can change user": may mark addresses verified (not facilitators)."""
    keeper = make_user("kim@example.com", full_name="Kim Keeper", is_staff=True)
    keeper.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    return keeper


def mark(client: Client, user: User, **extra: str):
    return client.post(
        "/admin/accounts/user/",
        {"action": "mark_verified", "_selected_action": [user.pk], **extra},
    )


def can_sign_in(user: User) -> bool:
    return (
        Client()
        .post("/accounts/login/", {"username": user.email, "password": PASSWORD})
        .status_code
        == 302
    )


@pytest.mark.parametrize("persona", ["superuser", "user_keeper"])
def test_staff_who_may_change_users_mark_an_address_verified_after_a_warning(
    request, persona: str, sign_up: User
) -> None:
    admin = signed_in(request.getfixturevalue(persona))
    assert not can_sign_in(sign_up)

    warning = mark(admin, sign_up)
    assert warning.status_code == 200
    assert "cannot be undone" in warning.content.decode()
    assert not User.objects.get(pk=sign_up.pk).is_verified

    done = mark(admin, sign_up, apply="Mark verified")

    assert done.status_code == 302
    assert User.objects.get(pk=sign_up.pk).is_verified
    assert LogEntry.objects.filter(
        object_id=str(sign_up.pk), change_message=user_admin.MARKED_VERIFIED
    ).exists()
    assert can_sign_in(sign_up)


def test_marking_verified_ends_what_was_set_up_before_it(superuser: User) -> None:
    # An account staff made, signed in before its address was proven.
    made = make_user("made@example.com")
    signed_in(made)
    assert Session.objects.filter(user_id=made.pk).exists()

    mark(signed_in(superuser), made, apply="Mark verified")

    assert not Session.objects.filter(user_id=made.pk).exists()


def test_staff_without_the_change_permission_cannot_mark(sign_up: User) -> None:
    viewer = make_user("vic@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    admin = signed_in(viewer)

    assert "mark_verified" not in admin.get("/admin/accounts/user/").content.decode()
    response = mark(admin, sign_up, apply="Mark verified")

    assert response.status_code in (200, 302)
    assert not User.objects.get(pk=sign_up.pk).is_verified
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("persona", ["member", "staff"])
def test_members_and_other_staff_never_reach_the_action(
    request, persona: str, sign_up: User
) -> None:
    response = mark(signed_in(request.getfixturevalue(persona)), sign_up, apply="Mark verified")

    assert response.status_code in (302, 403)
    assert not User.objects.get(pk=sign_up.pk).is_verified


def test_anonymous_is_sent_to_the_admin_sign_in(sign_up: User) -> None:
    response = mark(Client(), sign_up, apply="Mark verified")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not User.objects.get(pk=sign_up.pk).is_verified


# --- Deleting in the admin is the member's own deletion ----------------------------------


def test_deleting_in_the_admin_runs_every_app_and_may_be_refused(
    superuser: User, member: User, settings
) -> None:
    Customer.objects.create(id="cus_test_bob", subscriber=member, livemode=False)
    settings.STRIPE_SECRET_KEY = ""  # Stripe cannot be asked to cancel his dues
    admin = signed_in(superuser)

    refused = admin.post(f"/admin/accounts/user/{member.pk}/delete/", {"post": "yes"}, follow=True)

    assert STRIPE_UNREACHABLE in refused.content.decode()
    assert User.objects.filter(pk=member.pk).exists()
    assert "delete_selected" not in admin.get("/admin/accounts/user/").content.decode()

    Customer.objects.filter(subscriber=member).delete()
    admin.post(f"/admin/accounts/user/{member.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(pk=member.pk).exists()
    # The admin logs the deletion under his address; that entry is renamed too.
    assert LogEntry.objects.filter(object_id=str(member.pk), action_flag=3).exists()
    assert find_in_database("default", [member.email, member.full_name]) == []
