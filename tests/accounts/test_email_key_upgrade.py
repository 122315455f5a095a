"""Upgrading a database made before canonical email keys.

The old schema let look-alike addresses in side by side (uniqueness compared
LOWER, look-ups UPPER). The databases are built at that schema, given such
accounts through its own models, then brought up to date with `manage.py
migrate`, exactly as an operator would. Each clash is settled (one account
keeps the address, the other is deactivated and told, nothing merged) and
the real owner signs in again.
"""

# ruff: noqa: RUF001  (the look-alike letters are the point of this test)

from __future__ import annotations

import json

import pytest

from tests.notifications import test_upgrade
from tests.proc import child_env, manage

pytestmark = pytest.mark.django_db(databases="__all__")

fresh_databases = test_upgrade.fresh_databases

BUILD_OLD_SCHEMA = """
import json, sys
from datetime import datetime, UTC
import django
django.setup()
from django.contrib.auth.hashers import make_password
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

for alias in ("default", "creds"):
    executor = MigrationExecutor(connections[alias])
    targets = [
        (app, "0005_verified_phones" if app == "accounts" else name)
        for app, name in executor.loader.graph.leaf_nodes()
    ]
    executor.migrate(targets)
    old = executor.loader.project_state(targets).apps

User = old.get_model("accounts", "User")
Credential = old.get_model("accounts", "Credential")
ids = {}
def make(email, joined, **extra):
    joined = datetime(*joined, tzinfo=UTC)
    user = User.objects.create(email=email, full_name=email, date_joined=joined, **extra)
    Credential.objects.create(user_id=user.pk, password_hash=make_password("pw-" + email))
    ids[email] = user.pk
verified = {"email_verified_at": datetime(2026, 1, 2, tzinfo=UTC)}
make("tim.victim@example.org", (2025, 1, 1), is_staff=True, is_superuser=True)
make("tım.victim@example.org", (2026, 3, 1))
make("tim.vıctim@example.org", (2024, 1, 1))
make("sam@example.org", (2025, 1, 1))
make("ſam@example.org", (2026, 1, 1), **verified)
make("new.man@example.org", (2026, 5, 1))
make("helper@example.org", (2026, 5, 1), is_staff=True)
make("old.hand@example.org", (2020, 5, 1), **verified)
print("BUILT" + json.dumps(ids))
"""

READ_NEW_SCHEMA = """
import json
import django
django.setup()
from django.contrib.auth import authenticate
from accounts.models import User
from notifications.models import Notification
users = {
    u["email"]: u
    for u in User.objects.values("pk", "email", "email_key", "is_active", "from_sign_up")
}
def signs_in(typed, owner_email):
    user = authenticate(username=typed, password="pw-" + owner_email)
    return user.email if user else None
print("STATE" + json.dumps({
    "users": users,
    "told": sorted(
        (n.user.email, n.subject, n.body)
        for n in Notification.objects.filter(kind="email_retired")
    ),
    "signs_in": {
        "owner by look-alike": signs_in("TIM.victım@EXAMPLE.org", "tim.victim@example.org"),
        "retired look-alike": signs_in("tım.victim@example.org", "tım.victim@example.org"),
        "verified ſam": signs_in("SAM@example.org", "ſam@example.org"),
        "retired sam": signs_in("sam@example.org", "sam@example.org"),
    },
}))
"""


# PostgreSQL only: its UPPER() is what let the clashes in. The embedded
# default's SQLite runs these migrations in tests/notifications/test_upgrade.py.
@pytest.mark.parametrize("fresh_databases", ["postgresql"], indirect=True)
def test_migrate_settles_look_alike_accounts_and_the_owner_signs_in_again(
    fresh_databases: dict[str, str],
) -> None:
    env = child_env(**fresh_databases)
    ids = json.loads(test_upgrade.run_script(BUILD_OLD_SCHEMA, env).split("BUILT")[1])

    proc = manage("migrate", "--noinput", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads(test_upgrade.run_script(READ_NEW_SCHEMA, env).split("STATE")[1])
    users = state["users"]

    # The superuser keeps his address over an older and a newer look-alike.
    assert users["tim.victim@example.org"]["email_key"] == "tim.victim@example.org"
    assert users["tim.victim@example.org"]["is_active"]
    for loser in ("tım.victim@example.org", "tim.vıctim@example.org"):
        assert users[loser]["email_key"] == f"RETIRED:{ids[loser]}:tim.victim@example.org"
        assert not users[loser]["is_active"]
    # A verified address beats an older unverified one.
    assert users["ſam@example.org"]["email_key"] == "sam@example.org"
    assert users["ſam@example.org"]["is_active"]
    assert not users["sam@example.org"]["is_active"]
    # Nothing merged, nothing deleted: every account is still there as it was typed.
    assert sorted(users) == sorted(ids)
    # Each deactivated owner is told, without the other member's address.
    told = state["told"]
    assert [email for email, _, _ in told] == sorted(
        ["tım.victim@example.org", "tim.vıctim@example.org", "sam@example.org"]
    )
    for email, subject, body in told:
        assert "closed" in subject
        assert email in body
        assert "tim.victim@example.org" not in body.replace(email, "")
    # The operator sees each clash.
    assert proc.stdout.count("clashes with") == 3
    # The owner signs in by any spelling; the retired accounts do not.
    assert state["signs_in"] == {
        "owner by look-alike": "tim.victim@example.org",
        "retired look-alike": None,
        "verified ſam": "ſam@example.org",
        "retired sam": None,
    }
    # Unverified sign-ups need their address proven before their password works;
    # staff and verified accounts are left as they were.
    assert users["new.man@example.org"]["from_sign_up"]
    assert not users["helper@example.org"]["from_sign_up"]
    assert not users["old.hand@example.org"]["from_sign_up"]
    assert not users["tim.victim@example.org"]["from_sign_up"]
