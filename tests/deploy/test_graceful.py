"""SIGTERM to gunicorn (docker stop, a rolling update) lets requests in flight finish."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.deploy.servers import gunicorn

pytestmark = pytest.mark.django_db(databases="__all__")

SLOW_SECONDS = 3


def test_sigterm_during_a_slow_request_lets_it_finish(prod_env, tmp_path: Path) -> None:
    started = tmp_path / "started"
    started.touch()
    env = {**prod_env, "SLOW_APP_STARTED": str(started), "SLOW_APP_SECONDS": str(SLOW_SECONDS)}
    answer: dict[str, object] = {}

    def slow_request(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/__slow__", headers={"Host": "localhost"})
            response = conn.getresponse()
            answer["status"], answer["body"] = response.status, response.read()
        except Exception as exc:  # reported by the asserts below
            answer["error"] = repr(exc)
        finally:
            conn.close()

    with gunicorn(env, tmp_path, "tests.deploy.slow_app:application") as web:
        client = threading.Thread(target=slow_request, args=(web.port,))
        client.start()
        deadline = time.monotonic() + 15
        while not started.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.read_text(), "the slow request never reached the app"

        signalled = time.monotonic()
        web.proc.send_signal(signal.SIGTERM)

        # The request in flight gets its whole answer,
        client.join(30)
        assert answer.get("status") == 200, answer
        assert answer["body"] == f"finished after {SLOW_SECONDS} s\n".encode()
        # and then gunicorn exits cleanly, without waiting out its grace period.
        assert web.proc.wait(30) == 0
        assert time.monotonic() - signalled < 20

    log = "\n".join(web.log_lines())
    assert "Handling signal: term" in log
    assert "Shutting down: Master" in log
