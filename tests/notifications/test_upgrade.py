"""Upgrading a database made before the notification log had its own app.

The databases are built at the schema of that release (the log in `mensc`'s
tables), given messages through that schema's own models, then brought up to
date with `manage.py migrate`, exactly as an operator would. PostgreSQL (as in
production) and SQLite (the embedded default) both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections

from tests.proc import ROOT, child_env, manage

pytestmark = pytest.mark.django_db(databases="__all__")

# The last migration of each of our apps in the release before the move.
BUILD_OLD_SCHEMA = """
import json, sys
import django
django.setup()
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

OLD = {
    "mensc": "0001_initial",
    "accounts": "0002_profile_google_tokens_sessions",
    "circles": "0002_facilitators_group",
    "billing": "0002_treasurers_group",
}
NEW_APPS = {"notifications"}
for alias in ("default", "creds"):
    executor = MigrationExecutor(connections[alias])
    targets = [
        (app, OLD.get(app, name))
        for app, name in executor.loader.graph.leaf_nodes()
        if app not in NEW_APPS
    ]
    executor.migrate(targets)
    if alias == "default":
        old = executor.loader.project_state(targets).apps

User = old.get_model("accounts", "User")
Notification = old.get_model("mensc", "Notification")
SmsOptOut = old.get_model("mensc", "SmsOptOut")
user = User.objects.create(email="old.timer@example.com", full_name="Old Timer")
common = {"user_id": user.pk, "channel": "email", "subject": "Subject"}
Notification.objects.create(
    kind="reminder_24h", subject_key="meeting:1", body="See you Tuesday.", status="sent", **common
)
Notification.objects.create(
    kind="password_reset",
    subject_key="reset:1",
    body="Choose a new password: http://x/accounts/password/reset/MQ/working-token/",
    status="pending",
    **common,
)
Notification.objects.create(
    kind="verify_email",
    subject_key="verify:1",
    body="Verify: http://x/accounts/verify/working-token/",
    status="sent",
    **common,
)
SmsOptOut.objects.create(phone="+14155550123")
print("BUILT", user.pk)
"""

READ_NEW_SCHEMA = """
import json
import django
django.setup()
from django.db import connection
from notifications.models import Notification, SmsOptOut
with connection.cursor() as cursor:
    tables = connection.introspection.table_names(cursor)
rows = list(
    Notification.objects.order_by("pk").values(
        "user_id", "kind", "subject_key", "status", "body", "error"
    )
)
print("STATE" + json.dumps({
    "rows": rows,
    "opted_out": list(SmsOptOut.objects.values_list("phone", flat=True)),
    "tables": sorted(t for t in tables if "notif" in t or "smsoptout" in t),
}))
"""


def run_script(script: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_databases(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """Two empty databases of the kind asked for, as environment variables."""
    if request.param == "sqlite":
        yield {
            "DATABASE_URL": f"sqlite:///{tmp_path}/main.sqlite3",
            "CREDS_DATABASE_URL": f"sqlite:///{tmp_path}/creds.sqlite3",
        }
        return
    s = connections["default"].settings_dict
    admin = {
        "host": s["HOST"] or "127.0.0.1",
        "port": s["PORT"] or 5432,
        "user": s["USER"],
        "password": s["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    names = [f"mensc_upgrade_{os.getpid()}", f"mensc_upgrade_creds_{os.getpid()}"]
    with psycopg.connect(**admin) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    base = f"postgres://{auth}@{admin['host']}:{admin['port']}"
    try:
        yield {"DATABASE_URL": f"{base}/{names[0]}", "CREDS_DATABASE_URL": f"{base}/{names[1]}"}
    finally:
        with psycopg.connect(**admin) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_keeps_the_old_log_and_drops_the_working_links(
    fresh_databases: dict[str, str],
) -> None:
    env = child_env(**fresh_databases)
    built = run_script(BUILD_OLD_SCHEMA, env)
    user_id = int(built.split("BUILT")[1])

    proc = manage("migrate", "--noinput", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads(run_script(READ_NEW_SCHEMA, env).split("STATE")[1])

    assert state["tables"] == ["notifications_notification", "notifications_smsoptout"]
    assert state["opted_out"] == ["+14155550123"]
    by_kind = {row["kind"]: row for row in state["rows"]}
    assert [row["user_id"] for row in state["rows"]] == [user_id] * 3
    # An ordinary message is kept as it was.
    assert by_kind["reminder_24h"]["body"] == "See you Tuesday."
    assert by_kind["reminder_24h"]["status"] == "sent"
    # The ones that held a working link keep their place in the log, not the link;
    # one still waiting is not sent with a stale body.
    assert by_kind["verify_email"]["body"] == by_kind["password_reset"]["body"] == ""
    assert by_kind["verify_email"]["status"] == "sent"
    assert by_kind["password_reset"]["status"] == "failed_permanent"
    assert "working-token" not in json.dumps(state)
