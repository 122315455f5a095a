"""Database connections killed between requests cost no request (persistent + health-checked).

gunicorn keeps each thread's connections to both databases open between
requests (CONN_MAX_AGE). A PostgreSQL restart or failover, or an operator's
pg_terminate_backend, kills them under the app; CONN_HEALTH_CHECKS makes the
next request find that out and reconnect before its first query, so it does
not fail.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts.authentication import token_for
from tests.conftest import make_user
from tests.deploy.servers import gunicorn
from tests.proc import child_env

ROUNDS = 3


def terminate_app_backends(alias: str) -> int:
    """Kill every connection to `alias`'s database but this test's own; how many."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def request(port: int, method: str, path: str, **kwargs: object) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            method, path, headers={"Host": "localhost", **kwargs.pop("headers", {})}, **kwargs
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_killed_connections_to_both_databases_fail_no_request(tmp_path: Path) -> None:
    user = make_user("dan@example.com")
    refresh = token_for(user)
    bearer = {"Authorization": f"Bearer {refresh.access_token}"}
    env = child_env(SECRET_KEY=settings.SECRET_KEY, SECURE_SSL_REDIRECT="False")
    answers: list[tuple[str, int]] = []

    def every_kind_of_request(port: int) -> None:
        status, body = request(port, "GET", "/api/v1/health")
        assert body.get("database", {}).get("status") == "up", body
        assert body.get("credentials_database", {}).get("status") == "up", body
        answers.append(("health", status))
        answers.append(("me (default)", request(port, "GET", "/api/v1/me/", headers=bearer)[0]))
        status, _ = request(
            port,
            "POST",
            "/api/v1/auth/verify/",
            body=json.dumps({"token": str(refresh)}),
            headers={"Content-Type": "application/json"},
        )
        answers.append(("verify (creds)", status))

    with gunicorn(env, tmp_path, workers=1) as web:
        every_kind_of_request(web.port)
        for _ in range(ROUNDS):
            killed = {alias: terminate_app_backends(alias) for alias in ("default", "creds")}
            # The app held its connections open: there was something to kill in each database.
            assert killed["default"] >= 1
            assert killed["creds"] >= 1
            every_kind_of_request(web.port)

    assert all(status == 200 for _, status in answers), answers
    assert len(answers) == 3 * (ROUNDS + 1)
