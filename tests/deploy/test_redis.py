"""Redis in the compose stack: the cache and rate-limit counts, behind a password.

Sessions never rest in Redis (tests/accounts/test_sessions.py); Redis still
asks for a password, given as a secret file like every other. These run the
compose service's own command and healthcheck with the local redis-server.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.servers import DEPLOY
from tests.deploy.test_files import compose_command
from tests.proc import ROOT, child_env, manage

SECRET = "/run/secrets/redis_password"


@pytest.fixture
def redis_service(tmp_path: Path) -> dict:
    command, env = compose_command(tmp_path)
    proc = subprocess.run(
        [*command, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["services"]["redis"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_compose_redis_takes_its_password_from_a_secret_file(redis_service: dict) -> None:
    assert [s["source"] for s in redis_service["secrets"]] == ["redis_password"]
    assert "environment" not in redis_service
    assert not redis_service.get("ports")
    assert redis_service["read_only"] is True
    assert redis_service["user"] == "redis"


def test_compose_redis_refuses_a_client_without_the_password(
    redis_service: dict, tmp_path: Path
) -> None:
    """The service's own command and healthcheck, run here with a local redis-server."""
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server and redis-cli are not installed")
    password = "a1b2c3d4e5f6" * 4
    secret = tmp_path / "redis_password"
    secret.write_text(password + "\n")
    port = free_port()

    def local(script: str) -> str:
        # `config` prints compose's own escapes: the container gets `$` for `$$`.
        return (
            script.replace("$$", "$")
            .replace(SECRET, str(secret))
            .replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))  # noqa: S108
            .replace("redis-cli ping", f"redis-cli -p {port} ping")
        )

    shell, flag, script = redis_service["command"]
    server = subprocess.Popen(
        [shell, flag, local(script) + f" --port {port} --bind 127.0.0.1 --dir {tmp_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = local(redis_service["healthcheck"]["test"][1])
    try:
        for _ in range(50):
            if subprocess.run(["sh", "-c", health], timeout=10).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the healthcheck never passed")
        anonymous = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=10
        )
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        app = manage("health", env=child_env(REDIS_URL=f"redis://:{password}@127.0.0.1:{port}/0"))
        wrong = manage("health", env=child_env(REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    assert password.encode() not in cmdline  # not on the command line (ps) either
    assert json.loads(app.stdout)["cache"]["status"] == "up", app.stdout + app.stderr
    assert json.loads(wrong.stdout)["cache"]["status"] == "down"


def test_make_secrets_puts_the_redis_password_in_the_redis_url(tmp_path: Path) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    shutil.copy(DEPLOY / "make-secrets.sh", tmp_path)
    secrets = tmp_path / "secrets"

    def make() -> None:
        proc = subprocess.run(
            ["sh", str(tmp_path / "make-secrets.sh")], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr

    make()
    password = (secrets / "redis_password").read_text().strip()
    key = (secrets / "secret_key").read_text()
    assert len(password) >= 32
    assert (secrets / "redis_url").read_text().strip() == f"redis://:{password}@redis:6379/0"

    # An install from before Redis had a password gets a new URL, and nothing else.
    (secrets / "redis_url").write_text("redis://redis:6379/0\n")
    make()
    assert (secrets / "redis_url").read_text().strip() == f"redis://:{password}@redis:6379/0"
    assert (secrets / "secret_key").read_text() == key
