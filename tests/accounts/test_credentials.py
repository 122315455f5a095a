from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings

import mensc.settings
from accounts import services
from accounts.models import Credential, Session, User
from notifications.models import Notification
from tests.conftest import PASSWORD, capture_all_queries, make_user, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def test_main_database_holds_no_password_hash_and_no_session_key() -> None:
    user = make_user("dave@example.com")
    client = signed_in(user)
    password_hash = Credential.objects.get(user_id=user.pk).password_hash
    session_key = client.session.session_key
    needles = [password_hash, session_key, "md5$", "bcrypt", "pbkdf2"]

    assert find_in_database("default", needles) == []
    # The scan does find them where they belong, so it can fail.
    hits = find_in_database("creds", [password_hash, session_key])
    assert ("accounts_credential", "password_hash", password_hash) in hits
    assert ("accounts_session", "session_key", session_key) in hits


def test_bcrypt_is_the_production_hasher_and_older_hashes_are_upgraded() -> None:
    hashers = mensc.settings.PASSWORD_HASHERS
    assert hashers[0] == "django.contrib.auth.hashers.BCryptSHA256PasswordHasher"
    with override_settings(PASSWORD_HASHERS=hashers):
        user = make_user("ed@example.com")
        assert Credential.objects.get(user_id=user.pk).password_hash.startswith("bcrypt_sha256$")

        Credential.objects.filter(user_id=user.pk).update(
            password_hash=make_password(PASSWORD, hasher="pbkdf2_sha256")
        )
        stamp = user.credentials_changed_at
        user = User.objects.get(pk=user.pk)
        assert user.check_password(PASSWORD)

    assert Credential.objects.get(user_id=user.pk).password_hash.startswith("bcrypt_sha256$")
    user.refresh_from_db()
    assert user.credentials_changed_at == stamp  # an upgrade is not a password change


def test_check_password_accepts_the_right_password_only(member: User) -> None:
    member = User.objects.get(pk=member.pk)

    assert member.check_password(PASSWORD)
    assert not member.check_password("wrong-password")
    assert not member.check_password("")


def test_set_password_writes_nothing_until_save(member: User) -> None:
    old_hash = Credential.objects.get(user_id=member.pk).password_hash

    member.set_password("A-new-password-93")

    assert Credential.objects.get(user_id=member.pk).password_hash == old_hash
    member.save()
    assert Credential.objects.get(user_id=member.pk).password_hash != old_hash
    assert User.objects.get(pk=member.pk).check_password("A-new-password-93")


def test_failed_sign_in_for_an_unknown_email_writes_nothing(member: User) -> None:
    # ModelBackend hashes the password on a throwaway User() to hide timing.
    with capture_all_queries() as captured:
        assert authenticate(username="nobody@example.com", password="whatever-123") is None
        response = Client().post(
            "/accounts/login/", {"username": "nobody@example.com", "password": "x-y-z-123"}
        )

    assert response.status_code == 200
    statements = [q["sql"].split()[0].upper() for c in captured.values() for q in c]
    assert statements
    assert set(statements) <= {"SELECT"}
    assert Credential.objects.count() == 1
    assert User.objects.count() == 1


def test_sign_in_with_a_wrong_password_is_refused_with_a_message(member: User) -> None:
    response = Client().post("/accounts/login/", {"username": member.email, "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct email address and password" in response.content
    assert "_auth_user_id" not in response.wsgi_request.session


def test_sign_in_is_case_insensitive_on_email(member: User) -> None:
    response = Client().post(
        "/accounts/login/", {"username": "BOB@Example.com", "password": PASSWORD}
    )

    assert response.status_code == 302


def test_a_second_account_with_the_same_email_in_other_case_is_refused(member: User) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already exists"):
        User(email="Bob@example.com").full_clean()


def test_deleting_a_user_deletes_his_credentials(member: User, outsider: User) -> None:
    member.delete()

    assert not Credential.objects.filter(user_id=member.pk).exists()
    assert Credential.objects.filter(user_id=outsider.pk).exists()


def test_bulk_deleting_users_deletes_their_credentials(member: User, outsider: User) -> None:
    User.objects.filter(pk__in=[member.pk, outsider.pk]).delete()

    assert Credential.objects.count() == 0


def test_usable_password_comes_from_the_credentials_store(member: User) -> None:
    google_only = make_user("gus@example.com", password=None)

    assert User.objects.get(pk=member.pk).has_usable_password()
    assert not User.objects.get(pk=google_only.pk).has_usable_password()


def test_password_reset_reaches_members_with_and_without_a_password(member: User) -> None:
    make_user("gus@example.com", password=None)

    # What the background task does with the address a reset page was given.
    assert services.password_reset_request(email="BOB@example.com") == 1
    assert services.password_reset_request(email="gus@example.com") == 1
    assert services.password_reset_request(email="nobody@example.com") == 0
    queued = Notification.objects.filter(kind="password_reset")
    assert sorted(queued.values_list("user__email", flat=True)) == [
        "bob@example.com",
        "gus@example.com",
    ]


def test_a_signed_in_request_checks_the_session_without_reading_credentials(
    member: User,
) -> None:
    client = signed_in(member)

    with capture_all_queries() as captured:
        response = client.get("/accounts/password/change/")

    assert response.status_code == 200
    assert response.wsgi_request.user == member
    creds_sql = " ".join(q["sql"] for q in captured["creds"])
    assert "accounts_credential" not in creds_sql


def test_sessions_are_stored_in_creds_not_default(member: User) -> None:
    client = signed_in(member)

    assert Session.objects.using("creds").filter(pk=client.session.session_key).exists()
