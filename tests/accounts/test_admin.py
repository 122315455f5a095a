from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Credential, User
from tests.conftest import PASSWORD, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_PASSWORD = "Calm-granite-valley-61"


def test_admin_adds_a_user_whose_password_goes_to_creds(superuser: User) -> None:
    client = signed_in(superuser)
    page = client.get("/admin/accounts/user/add/")
    assert page.status_code == 200
    assert b'name="password"' not in page.content

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.com",
            "full_name": "New Man",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new@example.com")
    assert user.check_password(NEW_PASSWORD)
    assert Credential.objects.filter(user_id=user.pk).exists()
    hash_ = Credential.objects.get(user_id=user.pk).password_hash
    assert find_in_database("default", [hash_]) == []


def test_admin_add_with_a_taken_email_shows_an_error_and_adds_nothing(
    superuser: User, member: User
) -> None:
    response = signed_in(superuser).post(
        "/admin/accounts/user/add/",
        {
            "email": "BOB@example.com",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert b"already exists" in response.content
    assert User.objects.count() == 2


def test_admin_change_page_shows_no_password_field_and_no_hash(
    superuser: User, member: User
) -> None:
    client = signed_in(superuser)
    hash_ = Credential.objects.get(user_id=member.pk).password_hash

    page = client.get(f"/admin/accounts/user/{member.pk}/change/")

    assert page.status_code == 200
    assert b'name="password"' not in page.content
    assert hash_.encode() not in page.content
    assert f"/admin/accounts/user/{member.pk}/password/".encode() in page.content


def test_admin_change_saves_fields_without_touching_the_password(
    superuser: User, member: User
) -> None:
    client = signed_in(superuser)
    stamp = member.credentials_changed_at

    response = client.post(
        f"/admin/accounts/user/{member.pk}/change/",
        {"email": member.email, "full_name": "Robert Member", "is_active": "on"},
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.full_name == "Robert Member"
    assert member.credentials_changed_at == stamp
    assert member.check_password(PASSWORD)


def test_admin_sets_a_new_password_and_the_member_is_signed_out(
    superuser: User, member: User
) -> None:
    member_session = signed_in(member)

    response = signed_in(superuser).post(
        f"/admin/accounts/user/{member.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).check_password(NEW_PASSWORD)
    assert member_session.get("/accounts/password/change/").status_code == 302


def test_admin_deletes_a_user_and_his_credentials(superuser: User, member: User) -> None:
    response = signed_in(superuser).post(
        f"/admin/accounts/user/{member.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
    assert not Credential.objects.filter(user_id=member.pk).exists()


USER_ADMIN_URLS = [
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/accounts/user/{pk}/change/",
    "/admin/accounts/user/{pk}/password/",
]


@pytest.mark.parametrize("url", USER_ADMIN_URLS)
def test_anonymous_and_members_are_sent_to_the_admin_sign_in(
    member: User, outsider: User, url: str
) -> None:
    url = url.format(pk=outsider.pk)
    for client in (Client(), signed_in(member)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", USER_ADMIN_URLS)
def test_staff_without_user_permissions_are_refused(staff: User, outsider: User, url: str) -> None:
    response = signed_in(staff).get(url.format(pk=outsider.pk))

    assert response.status_code == 403


@pytest.mark.parametrize("url", USER_ADMIN_URLS)
def test_superuser_reaches_the_user_admin(superuser: User, outsider: User, url: str) -> None:
    assert signed_in(superuser).get(url.format(pk=outsider.pk)).status_code == 200
