"""Start and stop real servers for the deploy tests: gunicorn, nginx.

Everything listens on 127.0.0.1 on a free port, keeps its files in a folder of
the test's own, and is stopped by pid (SIGKILL if it won't stop), so two
pytest-xdist workers never meet.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.proc import ROOT, child_env

DEPLOY = ROOT / "deploy"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")]
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")


# What deploy/ sets in production, on the suite's test databases and Redis
# (tests.proc.child_env): DEBUG off, HTTPS behind a proxy that says so, static
# files collected and served by WhiteNoise, JSON logs (LOG_FORMAT unset: the
# production default).
PRODUCTION = {
    "DJANGO_DEBUG": "False",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
    "SITE_URL": "https://127.0.0.1",
    "USE_X_FORWARDED_PROTO": "True",
    "USE_X_REAL_IP": "True",
    "STATIC_MANIFEST": "True",
}


def production_env(static_root: Path, **overrides: str) -> dict[str, str]:
    env = child_env(**PRODUCTION, STATIC_ROOT=str(static_root), **overrides)
    env.pop("LOG_FORMAT", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    """Stop one process we started, by its pid; kill it if it won't go."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


# --- gunicorn -------------------------------------------------------------------


@dataclass
class Gunicorn:
    proc: subprocess.Popen
    port: int
    stdout: Path
    stderr: Path

    def log_lines(self) -> list[str]:
        return [
            line
            for path in (self.stdout, self.stderr)
            for line in path.read_text(errors="replace").splitlines()
        ]


@contextmanager
def gunicorn(env: dict[str, str], folder: Path, *app: str, workers: int = 2) -> Iterator[Gunicorn]:
    """gunicorn with deploy/gunicorn.conf.py on a free port of 127.0.0.1."""
    port = free_port()
    env = {**env, "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": "2"}
    out, err = folder / "gunicorn.out", folder / "gunicorn.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", *app],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    server = Gunicorn(proc, port, out, err)
    try:
        try:
            wait_for_port(port, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{err.read_text()}") from None
        yield server
    finally:
        stop(proc)


# --- nginx ------------------------------------------------------------------------


def installed_or_skip(name: str, found: str | None, test: str) -> str:
    """The path of a Debian tool, or skip `test`: only where it can't be had (never in CI)."""
    if found:
        return found
    reason = (
        f"{name} is not installed (python3 -m mensc test installs Debian's package "
        "when run as root with apt-get)"
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; CI must run the {test}")
    print(f"SKIPPED {test}: {reason}", file=sys.stderr)
    pytest.skip(reason)


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in NGINX_PATHS if os.access(path, os.X_OK)), None
    )
    return installed_or_skip("nginx", found, "nginx smoke test")


def render_template(text: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst step does with deploy/nginx.conf."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${MENSC_" not in text, "a MENSC_ variable of deploy/nginx.conf was not given"
    return text


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Nginx:
    proc: subprocess.Popen
    http_port: int
    https_port: int
    folder: Path
    cert: Path
    tls: ssl.SSLContext = field(init=False)

    def __post_init__(self) -> None:
        self.tls = ssl.create_default_context(cafile=str(self.cert))

    def access_log(self) -> list[str]:
        return (self.folder / "access.log").read_text().splitlines()

    def error_log(self) -> str:
        return (self.folder / "error.log").read_text()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        https: bool = True,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        if https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=self.tls, timeout=30
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


@contextmanager
def nginx(upstream_port: int) -> Iterator[Nginx]:
    """nginx with deploy/nginx.conf, rendered as the nginx image renders it."""
    binary = nginx_binary()
    # Not under pytest's 0700 tmp folder: nginx's workers drop root and must
    # reach their temp folders (nginx makes those and gives them to the worker user).
    folder = Path(tempfile.mkdtemp(prefix="mensc-nginx-"))
    folder.chmod(0o755)
    try:
        cert, key = make_certificate(folder)
        http_port, https_port = free_port(), free_port()
        site = render_template(
            (DEPLOY / "nginx.conf").read_text(),
            {
                "MENSC_UPSTREAM": f"127.0.0.1:{upstream_port}",
                "MENSC_LISTEN_HTTP": f"127.0.0.1:{http_port}",
                "MENSC_LISTEN_HTTPS": f"127.0.0.1:{https_port}",
                "MENSC_TLS_CERT": str(cert),
                "MENSC_TLS_KEY": str(key),
                "MENSC_ACCESS_LOG": str(folder / "access.log"),
            },
        )
        (folder / "mensc.conf").write_text(site)
        mime = Path("/etc/nginx/mime.types")  # Debian's; only nginx's own answers use it
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"""
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
{f"    include {mime};" if mime.exists() else ""}
{temp}
    include {folder / "mensc.conf"};
}}
"""
        )
        base = [binary, "-p", str(folder), "-e", str(folder / "error.log")]
        base += ["-c", str(folder / "nginx.conf")]
        check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx -t rejected deploy/nginx.conf:\n{check.stderr}"
        proc = subprocess.Popen(
            [*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(https_port, proc, timeout=10)
            yield Nginx(proc, http_port, https_port, folder, cert)
        finally:
            stop(proc, signal.SIGQUIT)  # graceful: finish what is in flight
    finally:
        shutil.rmtree(folder, ignore_errors=True)
