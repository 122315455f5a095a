"""Saves that race a password change write only their own columns.

Real interleavings on real PostgreSQL, through the pages (tests/races.py): a
request reads the member, then is parked on a lock the test holds, just
before it writes; the racing change commits meanwhile; the lock goes and the
parked request writes with the member as it read him. It must write only its
own columns: writing back the stale credential stamp would let in again
every session the password change signed out, and writing back the rest of
the row would undo the other save.
"""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test import Client

from accounts import services
from accounts.models import User
from tests.conftest import PASSWORD, signed_in
from tests.races import Worker, parked

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

NEW_PASSWORD = "Brand-new-lantern-58"
SETTINGS = {
    "full_name": "Bob Member",
    "display_name": "Bobby",
    "phone": "+14155550123",
    "time_zone": "Europe/Paris",
    "email_reminders": "on",
}
CHANGE_PASSWORD = {
    "old_password": PASSWORD,
    "new_password1": NEW_PASSWORD,
    "new_password2": NEW_PASSWORD,
}


def is_signed_in(client: Client) -> bool:
    return client.get("/accounts/password/change/").status_code == 200


def lock_table(alias: str, table: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")


@pytest.fixture
def member_with_a_number(member: User) -> User:
    # Not verified yet, so the settings page looks for a code sent to it.
    member.phone = "+14155550123"
    member.save(update_fields=["phone"])
    return member


def test_a_settings_save_racing_a_password_change_does_not_undo_it(
    member_with_a_number: User,
) -> None:
    member = member_with_a_number
    settings_tab, password_tab = signed_in(member), signed_in(member)
    elsewhere = signed_in(member)  # a session the password change signs out

    with transaction.atomic(using="creds"):
        # The settings page reads the pending phone code after reading the
        # member and before saving: hold that table.
        lock_table("creds", "accounts_phonechallenge")
        saving = Worker(lambda: settings_tab.post("/accounts/settings/", SETTINGS))
        assert parked("creds", "accounts_phonechallenge", saving)
        # It has read the member: the password changes and commits now.
        response = Worker(lambda: password_tab.post("/accounts/password/change/", CHANGE_PASSWORD))
        assert response.join().status_code == 302
        stamp = User.objects.get(pk=member.pk).credentials_changed_at
        assert stamp > member.credentials_changed_at
        assert saving.running  # still parked: it saves after the password change
    assert saving.join().status_code == 302

    after = User.objects.get(pk=member.pk)
    assert (after.display_name, after.time_zone) == ("Bobby", "Europe/Paris")  # saved
    assert after.credentials_changed_at == stamp  # and the password change's stamp survived
    assert after.check_password(NEW_PASSWORD)
    assert not is_signed_in(elsewhere)  # signed out, and stays signed out
    assert not is_signed_in(settings_tab)  # it carried the old stamp: signed out too
    assert is_signed_in(password_tab)


def test_a_password_change_racing_a_settings_save_does_not_undo_it(member: User) -> None:
    settings_tab, password_tab = signed_in(member), signed_in(member)

    with transaction.atomic(using="creds"):
        # The password change reads the member, then his password hash to
        # check the old password: hold the credentials table there.
        lock_table("creds", "accounts_credential")
        changing = Worker(lambda: password_tab.post("/accounts/password/change/", CHANGE_PASSWORD))
        assert parked("creds", "accounts_credential", changing)
        response = Worker(lambda: settings_tab.post("/accounts/settings/", SETTINGS))
        assert response.join().status_code == 302
        assert User.objects.get(pk=member.pk).display_name == "Bobby"
    assert changing.join().status_code == 302

    after = User.objects.get(pk=member.pk)
    assert (after.display_name, after.time_zone) == ("Bobby", "Europe/Paris")
    assert after.check_password(NEW_PASSWORD)
    assert is_signed_in(password_tab)


def test_an_admin_save_racing_a_password_change_does_not_undo_it(
    superuser: User, member: User
) -> None:
    admin = signed_in(superuser)
    elsewhere = signed_in(member)
    url = f"/admin/accounts/user/{member.pk}/change/"
    form = {"email": member.email, "full_name": "Robert Member", "is_active": "on"}

    with transaction.atomic():
        # The admin reads the member, then writes his row: hold the row.
        User.objects.select_for_update().get(pk=member.pk)
        saving = Worker(lambda: admin.post(url, form))
        assert parked("default", "accounts_user", saving)
        # The member changes his password meanwhile (same lock holder: it commits with it).
        locked = User.objects.get(pk=member.pk)
        services.password_set(user=locked, password=NEW_PASSWORD)
        stamp = locked.credentials_changed_at
    assert saving.join().status_code == 302

    after = User.objects.get(pk=member.pk)
    assert after.full_name == "Robert Member"
    assert after.credentials_changed_at == stamp
    assert not is_signed_in(elsewhere)
