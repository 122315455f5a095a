"""Run Django in a child process with an environment of the test's choosing.

Used where the point is how the app behaves under other settings: a dead
database or cache, production settings, fresh SQLite files. The child talks to
real services (or real dead ports); nothing is patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.db import connections

ROOT = Path(__file__).resolve().parent.parent
DEAD_POSTGRES = "postgres://postgres@127.0.0.1:1/mensc"
DEAD_REDIS = "redis://127.0.0.1:1/0"
SECRET = "child-process-secret-key-" + "x9Q2-long-enough-and-varied-" * 2


def database_url(alias: str) -> str:
    """The URL of the (test) database the suite is using for `alias`."""
    s = connections[alias].settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Drop what tests/settings.py (and the browser journeys' conftest) put
        # in the environment for this process.
        if not key.endswith("_URL")
        and key
        not in {
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "SECURE_SSL_REDIRECT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        DJANGO_SETTINGS_MODULE="mensc.settings",
        DJANGO_DEBUG="False",
        SECRET_KEY=SECRET,
        ALLOWED_HOSTS="testserver,localhost",
        DATABASE_URL=database_url("default"),
        CREDS_DATABASE_URL=database_url("creds"),
        REDIS_URL=os.environ["REDIS_URL"],
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


CLIENT_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
from accounts.models import User

client = Client()
results = []
for step in json.loads(sys.argv[1]):
    if step["do"] == "create_user":
        User.objects.create_user(step["email"], step["password"])
        continue
    response = getattr(client, step["do"])(step["path"], step.get("data"), secure=True)
    body = response.content.decode()
    results.append({
        "status": response.status_code,
        "content_type": response.get("Content-Type", ""),
        "location": response.get("Location"),
        "json": json.loads(body) if "json" in response.get("Content-Type", "") else None,
        "text": body,
    })
print("RESULTS" + json.dumps(results))
"""


def client_run(steps: list[dict], env: dict[str, str]) -> tuple[list[dict], str]:
    """Run Django's test client in a child process; return (results, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, json.dumps(steps)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULTS"))
    return json.loads(line.removeprefix("RESULTS")), proc.stderr
