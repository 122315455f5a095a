from __future__ import annotations

import sqlite3

import pytest
from django.db import connections

from accounts.models import Credential, User
from mensc.routers import CredentialsRouter
from tests.conftest import PASSWORD, make_user, signed_in
from tests.proc import child_env, manage

pytestmark = pytest.mark.django_db(databases="__all__")

CREDS_TABLES = {
    "accounts_credential",
    "accounts_googleidentity",
    "accounts_phonechallenge",
    "accounts_recoverycode",
    "accounts_revokedtoken",
    "accounts_session",
    "accounts_totpdevice",
    "circles_calendarfeed",
    "circles_facilitatornote",
}


def tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def count(alias: str, table: str, where: str = "", params: tuple = ()) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} {where}", params)  # noqa: S608
        return cursor.fetchone()[0]


def test_credential_and_session_tables_exist_only_in_creds() -> None:
    assert tables("creds") >= CREDS_TABLES
    assert not CREDS_TABLES & tables("default")


def test_no_other_table_is_in_creds() -> None:
    assert tables("creds") - {"django_migrations"} == CREDS_TABLES


def test_people_and_permissions_live_in_default() -> None:
    assert {"accounts_user", "auth_group", "auth_permission", "django_content_type"} <= tables(
        "default"
    )


def test_router_sends_credential_models_to_creds_and_the_rest_to_default() -> None:
    from accounts.models import Session

    router = CredentialsRouter()
    assert router.db_for_read(Credential) == router.db_for_write(Credential) == "creds"
    assert router.db_for_read(Session) == router.db_for_write(Session) == "creds"
    assert router.db_for_read(User) == router.db_for_write(User) == "default"
    assert router.allow_migrate("creds", "accounts", "user") is False
    assert router.allow_migrate("default", "accounts", "credential") is False
    assert router.allow_migrate("creds", "accounts", "credential") is True
    assert router.allow_relation(User(), Credential()) is False


def test_writes_land_where_they_belong(member: User) -> None:
    assert count("default", "accounts_user", "WHERE id = %s", (member.pk,)) == 1
    assert count("creds", "accounts_credential", "WHERE user_id = %s", (member.pk,)) == 1

    before = count("creds", "accounts_session")
    signed_in(member)

    assert count("creds", "accounts_session") == before + 1


def test_user_rows_and_credential_rows_are_linked_only_by_id() -> None:
    user = make_user("eli@example.com")

    credential = Credential.objects.get(user_id=user.pk)
    assert credential.password_hash.startswith("md5$")
    assert user.check_password(PASSWORD)


def test_one_migrate_command_brings_both_databases_up_to_date(tmp_path) -> None:
    main, creds = tmp_path / "main.sqlite3", tmp_path / "creds.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{main}", CREDS_DATABASE_URL=f"sqlite:///{creds}")

    proc = manage("migrate", "--noinput", env=env)

    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(main) as db:
        main_tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    with sqlite3.connect(creds) as db:
        creds_tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "accounts_user" in main_tables
    assert not CREDS_TABLES & main_tables
    assert creds_tables >= CREDS_TABLES
    assert "accounts_user" not in creds_tables
    # Nothing left to apply on either database.
    plan = manage("migrate", "--plan", env=env)
    assert plan.stdout.count("No planned migration operations.") == 2, plan.stdout


def test_migrate_with_database_option_migrates_only_that_one(tmp_path) -> None:
    main, creds = tmp_path / "main.sqlite3", tmp_path / "creds.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{main}", CREDS_DATABASE_URL=f"sqlite:///{creds}")

    proc = manage("migrate", "--noinput", "--database", "creds", env=env)

    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(main) as db:
        assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    with sqlite3.connect(creds) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert names >= CREDS_TABLES
