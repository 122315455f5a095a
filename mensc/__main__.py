"""The README's two commands, runnable on a machine that has only Python 3.11+.

    python3 -m mensc run    # virtualenv, install, migrate, demo data, serve on :8000
    python3 -m mensc test   # virtualenv, install, check services (+ nginx), ruff,
                            # import contracts, benchmarks, pytest

Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
RUNTIME_REQUIREMENTS = [ROOT / "requirements.txt"]
TEST_REQUIREMENTS = [*RUNTIME_REQUIREMENTS, ROOT / "tests" / "requirements.txt"]


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def ensure_venv(requirements: list[Path]) -> None:
    """Create .venv if needed and install the requirements when they changed."""
    if sys.version_info < (3, 11):
        fail(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        say(f"Creating a virtualenv in {VENV.relative_to(ROOT)}/")
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            fail(f"could not create the virtualenv ({exc}); on Debian: apt install python3-venv")
    digest = hashlib.sha256(sys.version.encode())
    for path in requirements:
        digest.update(path.read_bytes())
    stamp = VENV / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    say("Installing requirements (first run takes a minute)")
    args = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for path in requirements:
        args += ["-r", str(path)]
    run(args)
    stamp.write_text(digest.hexdigest())


def run(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(args, cwd=ROOT, env=env)
    if result.returncode:
        raise SystemExit(result.returncode)


def manage(*args: str) -> None:
    run([str(PYTHON), "manage.py", *args])


def serve(argv: list[str]) -> None:
    ensure_venv(RUNTIME_REQUIREMENTS)
    say("Migrating both databases")
    manage("migrate", "--noinput", "--verbosity", "0")
    say("Seeding demo data")
    manage("seed_demo")
    addrport = argv[0] if argv else "127.0.0.1:8000"
    say(f"Serving at http://{addrport}/  (admin: http://{addrport}/admin/; Ctrl-C stops)")
    os.chdir(ROOT)
    os.execv(str(PYTHON), [str(PYTHON), "manage.py", "runserver", addrport])


def check_reachable(name: str, url: str, variable: str) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        reason = exc.strerror or exc
        return f"{name} is not reachable at {host}:{port} ({reason}); start it or set {variable}"


NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
CHROMIUM = "/usr/bin/chromium"
WRK = "/usr/bin/wrk"


def nginx_binary() -> str | None:
    """Where nginx is; /usr/sbin is not on every user's PATH."""
    found = shutil.which("nginx")
    return found or next((path for path in NGINX_PATHS if os.access(path, os.X_OK)), None)


def chromium_binary() -> str | None:
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


def wrk_binary() -> str | None:
    return shutil.which("wrk") or (WRK if os.access(WRK, os.X_OK) else None)


# Debian packages the tests use, each with how to find it once installed:
# nginx for the deploy smoke test, chromium for the browser journeys, wrk
# (an HTTP load generator) for the load benchmark.
DEBIAN_PACKAGES = {"nginx": nginx_binary, "chromium": chromium_binary, "wrk": wrk_binary}


def install_debian_packages(packages: list[str]) -> bool:
    """Install Debian packages without starting any service; True when it worked.

    Debian starts a service on install unless policy-rc.d says no; a started
    nginx would listen on every address on port 80. Container images usually
    ship that policy already; where they don't, one is put in place for the
    install and taken away after.
    """
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# Temporary: no service starts while we install.\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for args in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            if subprocess.run(args, env=env).returncode:
                return False
    finally:
        if ours:
            policy.unlink()
    return all(DEBIAN_PACKAGES[name]() for name in packages)


def ensure_debian_packages() -> None:
    """nginx (deploy smoke test), chromium (browser journeys), wrk (load benchmark): get them.

    Installs Debian's packages when running as root with apt-get (as CI does).
    Elsewhere the tests that need them skip with their reason, except in CI,
    where a missing package fails the run.
    """
    missing = [name for name, find in DEBIAN_PACKAGES.items() if not find()]
    if not missing:
        return
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    names = " and ".join(missing)
    if is_root and shutil.which("apt-get"):
        say(
            f"Installing {names} (Debian packages) for the smoke test, the browser journeys "
            "and the load benchmark"
        )
        if install_debian_packages(missing):
            return
        problem = f"apt-get could not install {names}"
    else:
        problem = f"{names} not installed, and installing needs root and apt-get"
    if in_ci:
        fail(f"{problem}; CI runs the tests that need them")
    say(f"{problem}: the tests that need them will be skipped")


def test(argv: list[str]) -> None:
    ensure_venv(TEST_REQUIREMENTS)
    sys.path.insert(0, str(ROOT))
    from tests.services import SERVICE_DEFAULTS

    env = dict(os.environ)
    for variable, default in SERVICE_DEFAULTS.items():
        env.setdefault(variable, default)
    problems = [
        check_reachable("PostgreSQL (main)", env["DATABASE_URL"], "DATABASE_URL"),
        check_reachable(
            "PostgreSQL (credentials)", env["CREDS_DATABASE_URL"], "CREDS_DATABASE_URL"
        ),
        check_reachable("Redis", env["REDIS_URL"], "REDIS_URL"),
    ]
    if missing := [problem for problem in problems if problem]:
        fail("the tests need real services:\n  " + "\n  ".join(missing))
    ensure_debian_packages()
    say("ruff check")
    run([str(PYTHON), "-m", "ruff", "check", "."])
    say("ruff format --check")
    run([str(PYTHON), "-m", "ruff", "format", "--check", "."])
    say("import contracts (lint-imports): apps in layers, no import cycle")
    run([str(BIN / "lint-imports"), "--no-cache"])
    if not argv:
        say("benchmarks (pytest -m perf): figures, not pass/fail on time")
        run([str(PYTHON), "-m", "pytest", "-m", "perf", "-p", "no:xdist", "-q"], env=env)
    say("pytest")
    # Two workers: the machine (and CI) has two cores.
    run([str(PYTHON), "-m", "pytest", "-n", "2", *argv], env=env)


COMMANDS = {"run": serve, "test": test}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        raise SystemExit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
