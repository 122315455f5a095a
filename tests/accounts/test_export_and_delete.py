from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from accounts import services
from accounts.forms import WRONG_CONFIRMATION, WRONG_PASSWORD
from accounts.models import Credential, GoogleIdentity, RevokedToken, Session, User
from tests.conftest import PASSWORD, make_user, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

PHONE = "+14155550123"


@pytest.fixture
def rich_member(member: User) -> User:
    """A member with data in every place we keep some."""
    member.phone = PHONE
    member.display_name = "Bobby"
    member.save()
    GoogleIdentity.objects.create(user_id=member.pk, sub="google-sub-42", email="bob@gmail.com")
    RevokedToken.objects.create(jti="jti-1", user_id=member.pk, expires_at="2030-01-01T00:00Z")
    return member


def export(client: Client) -> dict:
    response = client.get("/accounts/settings/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return json.loads(response.content)


def test_export_holds_my_data_from_both_databases(rich_member: User) -> None:
    data = export(signed_in(rich_member))

    assert data["profile"]["email"] == rich_member.email
    assert data["profile"]["phone"] == PHONE
    assert data["profile"]["display_name"] == "Bobby"
    assert data["credentials"]["password_set"] is True
    assert data["credentials"]["linked_identities"][0]["email"] == "bob@gmail.com"
    assert len(data["credentials"]["active_sessions"]) == 1
    assert data["credentials"]["revoked_api_tokens"] == 1


def test_export_holds_no_secret(rich_member: User) -> None:
    client = signed_in(rich_member)
    text = client.get("/accounts/settings/export/").content.decode()

    password_hash = Credential.objects.get(user_id=rich_member.pk).password_hash
    assert password_hash not in text
    assert password_hash.split("$")[-1] not in text
    assert client.session.session_key not in text
    assert "jti-1" not in text
    assert "md5$" not in text


def test_export_holds_nobody_elses_data(rich_member: User, outsider: User) -> None:
    text = signed_in(rich_member).get("/accounts/settings/export/").content.decode()

    assert outsider.email not in text
    assert outsider.full_name not in text


def test_export_needs_sign_in(client: Client) -> None:
    response = client.get("/accounts/settings/export/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_deletion_removes_every_trace_from_both_databases(
    rich_member: User, superuser: User
) -> None:
    other_device = signed_in(rich_member)
    # An admin edit leaves the member's email in the admin log.
    admin = signed_in(superuser)
    admin.post(
        f"/admin/accounts/user/{rich_member.pk}/change/",
        {"email": rich_member.email, "full_name": rich_member.full_name, "is_active": "on"},
    )
    assert LogEntry.objects.filter(object_repr=rich_member.email).exists()
    client = signed_in(rich_member)

    response = client.post("/accounts/settings/delete/", {"password": PASSWORD}, follow=True)

    assert "Your account and your personal data are deleted" in response.content.decode()
    assert not User.objects.filter(pk=rich_member.pk).exists()
    pii = [rich_member.email, rich_member.full_name, PHONE, "Bobby", "bob@gmail.com"]
    assert find_in_database("default", pii) == []
    assert find_in_database("creds", pii) == []
    assert not Session.objects.filter(user_id=rich_member.pk).exists()
    assert not RevokedToken.objects.filter(user_id=rich_member.pk).exists()
    assert other_device.get("/accounts/settings/").status_code == 302
    assert client.get("/accounts/settings/").status_code == 302
    # Others are untouched.
    assert User.objects.filter(pk=superuser.pk).exists()
    assert Credential.objects.filter(user_id=superuser.pk).exists()


def test_deletion_signs_out_every_other_device(rich_member: User) -> None:
    other_device = signed_in(rich_member)
    other_device.get("/accounts/settings/")

    signed_in(rich_member).post("/accounts/settings/delete/", {"password": PASSWORD})

    response = other_device.get("/accounts/settings/")
    assert response.status_code == 302
    assert not response.wsgi_request.session.get("_auth_user_id")


@pytest.mark.parametrize("password", ["", "wrong-password"])
def test_deletion_with_a_wrong_password_changes_nothing(member: User, password: str) -> None:
    client = signed_in(member)

    response = client.post("/accounts/settings/delete/", {"password": password})

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["password"])
    assert WRONG_PASSWORD in errors or "required" in errors
    assert User.objects.filter(pk=member.pk).exists()
    assert client.get("/accounts/settings/").status_code == 200


def test_a_member_without_a_password_confirms_with_his_email() -> None:
    google_only = make_user("gus@example.com", password=None)
    client = Client()
    client.force_login(google_only)

    wrong = client.post("/accounts/settings/delete/", {"confirm_email": "someone@example.com"})
    assert WRONG_CONFIRMATION in " ".join(wrong.context["form"].errors["confirm_email"])
    assert User.objects.filter(pk=google_only.pk).exists()

    client.post("/accounts/settings/delete/", {"confirm_email": "GUS@example.com"})
    assert not User.objects.filter(pk=google_only.pk).exists()


def test_delete_page_needs_sign_in(client: Client) -> None:
    for method in (client.get, client.post):
        response = method("/accounts/settings/delete/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_a_signed_in_person_can_only_delete_himself(request, persona: str, outsider) -> None:
    user: User = request.getfixturevalue(persona)

    signed_in(user).post("/accounts/settings/delete/", {"password": PASSWORD})

    assert not User.objects.filter(pk=user.pk).exists()
    assert User.objects.filter(pk=outsider.pk).exists()


def test_an_export_section_or_an_eraser_is_registered_once() -> None:
    from accounts import personal_data

    first, second = (lambda user: 1), (lambda user: 2)
    personal_data.exporter("test-section", first)
    personal_data.eraser("test-eraser", erase=first)
    try:
        personal_data.exporter("test-section", first)  # the same again is harmless
        with pytest.raises(ValueError, match="twice"):
            personal_data.exporter("test-section", second)
        with pytest.raises(ValueError, match="twice"):
            personal_data.eraser("test-eraser", erase=second)
    finally:
        personal_data._exporters.pop("test-section")
        personal_data._erasers.pop("test-eraser")


def test_deletion_drops_the_task_records_that_hold_his_address(
    member: User, outsider: User, settings
) -> None:
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import password_reset_request

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # The reset page hands the typed address, in any spelling, to a task.
    mine = [password_reset_request.enqueue(a) for a in ("bob@example.com", "BOB@Example.COM")]
    running = password_reset_request.enqueue("bob@example.com")
    theirs = password_reset_request.enqueue(outsider.email)
    DBTaskResult.objects.filter(id=mine[0].id).update(status="SUCCESSFUL")
    DBTaskResult.objects.filter(id=running.id).update(status="RUNNING")

    services.user_delete(user=member)

    left = {str(pk) for pk in DBTaskResult.objects.values_list("id", flat=True)}
    assert left == {running.id, theirs.id}


def test_deletion_renames_admin_log_entries_that_name_him(
    member: User, outsider: User, superuser: User
) -> None:
    from django.contrib.admin.models import CHANGE

    from circles.models import Circle, Membership

    circle = Circle.objects.create(name="Elm", slug="elm", weekday=1, start_time="19:00")
    look_alike = make_user("jimbob@example.com")  # holds "bob@example.com"
    for user in (member, outsider, look_alike):
        membership = Membership.objects.create(circle=circle, user=user)
        LogEntry.objects.log_actions(superuser.pk, [membership], CHANGE, change_message="[]")
    pk = member.pk

    services.user_delete(user=member)

    reprs = set(LogEntry.objects.values_list("object_repr", flat=True))
    assert reprs == {
        f"deleted account #{pk}",
        f"{outsider.email} in Elm",
        "jimbob@example.com in Elm",
    }


@pytest.mark.parametrize("verified", [True, False])
def test_deletion_forgets_the_stop_of_a_number_he_proved(member: User, verified: bool) -> None:
    from notifications.models import SmsOptOut

    member.phone = PHONE
    member.save()
    if verified:
        member.phone_verified_at = member.date_joined
        member.save(update_fields=["phone_verified_at"])
    SmsOptOut.objects.create(phone=PHONE)

    services.user_delete(user=member)

    # A number he only typed may be someone else's, whose STOP stays.
    assert SmsOptOut.objects.filter(phone=PHONE).exists() is not verified
