"""What the containers run besides gunicorn: the start-up wait, the scheduler,
and settings read from secret files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.proc import ROOT, child_env, manage

pytestmark = pytest.mark.django_db(databases="__all__")

DEAD_WITH_PASSWORD = "postgres://postgres:Sekrit-db-pass-123@127.0.0.1:1/mensc"


def test_wait_for_databases_returns_at_once_when_both_are_up() -> None:
    proc = manage("wait_for_databases", "--timeout", "5", env=child_env())

    assert proc.returncode == 0, proc.stderr
    assert "databases ready: default, creds" in proc.stdout


def test_wait_for_databases_retries_then_fails_naming_the_database_not_its_password() -> None:
    started = time.monotonic()

    proc = manage(
        "wait_for_databases",
        "--timeout",
        "1.5",
        "--interval",
        "0.5",
        env=child_env(CREDS_DATABASE_URL=DEAD_WITH_PASSWORD),
    )

    assert proc.returncode == 1
    assert time.monotonic() - started >= 1.5
    assert "databases not reachable after 1.5 s (creds:" in proc.stderr
    assert "default" not in proc.stderr.split("(creds:")[1]
    assert "Sekrit-db-pass-123" not in proc.stderr + proc.stdout


def test_the_scheduler_runs_each_periodic_command_once_per_pass() -> None:
    env = child_env(SCHEDULER_ONCE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"

    proc = subprocess.run(
        ["sh", "deploy/scheduler.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed" not in proc.stderr
    for summary in ("Reminders queued:", "Message bodies dropped:"):
        assert summary in proc.stdout


def test_the_scheduler_reports_a_failing_command_and_carries_on() -> None:
    env = child_env(SCHEDULER_ONCE="1", DATABASE_URL=DEAD_WITH_PASSWORD)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"

    proc = subprocess.run(
        ["sh", "deploy/scheduler.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1
    for command in ("send_reminders", "schedule_meetings --weeks 8"):
        assert f"scheduler: manage.py {command} failed" in proc.stderr


def test_database_and_redis_urls_can_come_from_secret_files(tmp_path: Path) -> None:
    env = child_env()
    for name in ("DATABASE_URL", "CREDS_DATABASE_URL", "REDIS_URL"):
        path = tmp_path / name.lower()
        path.write_text(env.pop(name) + "\n")  # as `echo ... > file` writes it
        env[f"{name}_FILE"] = str(path)

    proc = manage("health", env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"status": "healthy"' in proc.stdout
