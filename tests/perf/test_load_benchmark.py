"""Benchmark: every page under load at national size, as a ratio to bare Django.

The site as production runs it (gunicorn, 4 sync workers, DEBUG off, static
files collected and served by WhiteNoise, PostgreSQL x2 and Redis), loaded
with tests/perf/bigdata.py (10,000 members, 1,000 circles, 100,000 meetings),
beside a bare Django JSON view (tests/perf/bare: startproject's middleware, no
database) under the same gunicorn. Debian's `wrk` drives each page in turn
with 32 connections (tests/perf/report.lua counts the answers that are not
2xx). Printed: req/s, p50, p99, non-2xx, the ratio to the bare view and the
target of issue 15 for it; RSS per worker; then two faults under load on the
dashboard: Redis paused for 5 s, and every PostgreSQL backend killed.

Figures, not a timed test: it fails only when the harness did not work (a
page answering mostly non-2xx, a server that did not start). Run alone with
`.venv/bin/pytest -m perf -p no:xdist -s tests/perf/test_load_benchmark.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connections

from accounts.authentication import token_for
from tests.conftest import force_signed_in
from tests.deploy.servers import free_port, installed_or_skip, stop, wait_for_port
from tests.perf import bigdata
from tests.proc import ROOT, child_env, manage

pytestmark = [pytest.mark.perf, pytest.mark.django_db(databases="__all__", transaction=True)]

WORKERS = 4
CONNECTIONS = 32
SECONDS = 4  # measured, per page
# For a page that answers fewer than CONNECTIONS requests in SECONDS (each waits
# behind the 31 others): long enough to see its latency at all.
SLOW_SECONDS = 15
WARM_SECONDS = 1  # first, per page: each worker loads its templates and connects
FAULT_SECONDS = 12
FAULT_AT = 4  # seconds into the fault's load
PAUSE_MS = 5000
REPORT = Path(__file__).with_name("report.lua")
MB = 1024


@dataclass(frozen=True)
class Target:
    ratio: float | None = None
    p99_ms: float = 100.0

    def text(self) -> str:
        ratio = f"≥ {self.ratio:.2f}, " if self.ratio is not None else ""
        return f"{ratio}p99 ≤ {self.p99_ms:.0f} ms"


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    target: Target
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    codes: list[int]  # the statuses that were not 2xx

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)
    return installed_or_skip("wrk", found, "load benchmark")


LINE = re.compile(r"^WRK (.*)$", re.MULTILINE)


def start_wrk(
    url: str, seconds: float, headers: dict[str, str], connections: int = CONNECTIONS
) -> subprocess.Popen:
    args = [wrk_binary(), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    args += ["-s", str(REPORT)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return subprocess.Popen([*args, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(proc: subprocess.Popen) -> Run:
    out, err = proc.communicate(timeout=120)
    found = LINE.search(out)
    assert proc.returncode == 0 and found, f"wrk failed:\n{out}\n{err}"
    raw = dict(pair.split("=") for pair in found.group(1).split())
    codes = sorted({int(c) for c in raw.pop("codes").split(",") if c.strip("-")})
    v = {k: int(n) for k, n in raw.items()}
    return Run(
        requests=v["requests"],
        seconds=v["duration_us"] / 1e6,
        p50_ms=v["p50_us"] / 1000,
        p99_ms=v["p99_us"] / 1000,
        max_ms=v["max_us"] / 1000,
        non2xx=v["non2xx"],
        socket_errors=v["connect"] + v["read"] + v["write"] + v["timeout"],
        codes=codes,
    )


def wrk(url: str, seconds: float, headers: dict[str, str], connections: int = CONNECTIONS) -> Run:
    return finish_wrk(start_wrk(url, seconds, headers, connections))


# --- gunicorn -----------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The pids of gunicorn's workers: the master's children."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def connections(self) -> int:
        """Client connections the server holds or has yet to accept (/proc/net/tcp).

        ESTABLISHED, SYN_RECV and CLOSE_WAIT: a connection wrk closed while
        it waited in the accept queue is still served by a sync worker.
        """
        local = f"0100007F:{self.port:04X}"
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[3] in {"01", "03", "08"}:
                count += 1
        return count

    def settle(self, limit: float = 60.0) -> None:
        """Wait until the workers are idle: requests queued by a slow page are not the next's."""
        deadline = time.monotonic() + limit
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:
            time.sleep(0.1)
            quiet = quiet + 1 if not self.connections() else 0

    def rss_mb(self) -> list[float]:
        return [self._kb(f"/proc/{pid}/status", "VmRSS") / MB for pid in self.workers()]

    def pss_mb(self) -> list[float]:
        """Proportional set size: shared pages (a preloaded app's) split between their users."""
        return [self._kb(f"/proc/{pid}/smaps_rollup", "Pss") / MB for pid in self.workers()]

    @staticmethod
    def _kb(path: str, field: str) -> int:
        text = Path(path).read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))


def wait_for_answer(url: str, log: Path, timeout: float = 60.0) -> None:
    """Until the server answers 200 (gunicorn listens before its workers have loaded Django)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our server)
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 in {timeout} s\n{log.read_text()}")
        time.sleep(0.2)


@contextmanager
def gunicorn(app: str, env: dict[str, str], folder: Path, probe: str) -> Iterator[Server]:
    """gunicorn with 4 sync workers on a free port, no access log (it would be the load)."""
    port = free_port()
    log = folder / f"gunicorn-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "--workers", str(WORKERS)),
                *("--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "120"),
                # As deploy/gunicorn.conf.py does: workers share the imported app.
                *("--log-level", "warning", "--preload", app),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc, port, log)
    try:
        try:
            wait_for_port(port, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()}") from None
        wait_for_answer(server.url + probe, log)
        yield server
    finally:
        stop(proc)


def site_env(static_root: Path, cache_prefix: str) -> dict[str, str]:
    """Production settings on the suite's test databases and Redis."""
    env = child_env(
        DJANGO_DEBUG="False",
        # The suite's key: the session cookie and the JWT made here are good there.
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain HTTP on 127.0.0.1, as behind the proxy that ends TLS.
        SECURE_SSL_REDIRECT="False",
        STATIC_MANIFEST="True",
        STATIC_ROOT=str(static_root),
        CACHE_KEY_PREFIX=cache_prefix,
        LOG_LEVEL="WARNING",
    )
    env.pop("LOG_FORMAT", None)  # production's JSON lines
    return env


# --- the benchmark ----------------------------------------------------------------------


def measure(site: Server, path: str, headers: dict[str, str]) -> Run:
    """SECONDS of load; a page too slow to answer each connection by then gets SLOW_SECONDS."""
    run = wrk(site.url + path, SECONDS, headers)
    site.settle()
    if run.requests < CONNECTIONS:
        run = wrk(site.url + path, SLOW_SECONDS, headers)
        site.settle()
    return run


def ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def verdict(run: Run, ratio: float, target: Target) -> str:
    if not run.requests:
        return f"NOT met (no answer in {run.seconds:.0f} s)"
    misses = []
    if target.ratio is not None and ratio < target.ratio:
        misses.append("ratio")
    if run.p99_ms > target.p99_ms:
        misses.append("p99")
    return "met" if not misses else f"NOT met ({', '.join(misses)})"


def table(rows: list[tuple[str, Run, Target | None]], bare_rate: float) -> list[str]:
    head = ("page", "req/s", "p50", "p99", "non-2xx", "ratio", "target", "")
    lines = [head]
    for label, run, target in rows:
        ratio = run.rate / bare_rate if bare_rate else 0.0
        lines.append(
            (
                label + (" *" if run.seconds > SECONDS + 1 else ""),
                f"{run.rate:,.1f}" if run.rate < 100 else f"{run.rate:,.0f}",
                ms(run.p50_ms) if run.requests else "-",
                ms(run.p99_ms) if run.requests else "-",
                failures(run),
                f"{ratio:.3f}" if ratio < 0.1 else f"{ratio:.2f}",
                target.text() if target else "(the yardstick)",
                verdict(run, ratio, target) if target else "",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    aligned = []
    for row in lines:
        cells = [
            cell.ljust(w) if i in (0, 6, 7) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        aligned.append("  ".join(cells).rstrip())
    return aligned


def failures(run: Run) -> str:
    """Failed/all, with the statuses seen: "3/1,204 (500, 503)"."""
    text = f"{run.non2xx + run.socket_errors}/{run.requests:,}"
    if run.codes:
        text += f" ({', '.join(map(str, run.codes))})"
    return text


def fault_line(name: str, run: Run) -> str:
    return (
        f"{name}: {run.requests:,} requests in {run.seconds:.1f} s, "
        f"failed {failures(run)} (socket errors {run.socket_errors}); "
        f"p50 {ms(run.p50_ms)}, p99 {ms(run.p99_ms)}, max {ms(run.max_ms)}"
    )


def redis_pause(server: Server, cookie: dict[str, str]) -> list[str]:
    """Redis stops answering for 5 s in the middle of a load on the dashboard."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    load = start_wrk(server.url + "/dashboard/", FAULT_SECONDS, cookie)
    time.sleep(FAULT_AT)
    client.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
    run = finish_wrk(load)
    client.close()
    server.settle()
    return [
        fault_line(
            f"Redis paused {PAUSE_MS / 1000:.0f} s (CLIENT PAUSE ALL) at {FAULT_AT} s of a "
            f"{FAULT_SECONDS} s load on /dashboard/",
            run,
        ),
        "  target: no request much over ~1 s (one cache timeout), no error",
    ]


def postgres_kill(server: Server, cookie: dict[str, str]) -> list[str]:
    """Every backend of both databases killed in the middle of a load on the dashboard."""
    names = [connections[alias].settings_dict["NAME"] for alias in ("default", "creds")]
    ours = []
    for alias in ("default", "creds"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            ours.append(cursor.fetchone()[0])
    load = start_wrk(server.url + "/dashboard/", FAULT_SECONDS, cookie)
    time.sleep(FAULT_AT)
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = ANY(%s) AND NOT pid = ANY(%s)",
            [names, ours],
        )
        (killed,) = cursor.fetchone()
    during = finish_wrk(load)
    server.settle()
    after = wrk(server.url + "/dashboard/", 2, cookie)
    return [
        fault_line(
            f"PostgreSQL: {killed} backends of both databases killed at {FAULT_AT} s of a "
            f"{FAULT_SECONDS} s load on /dashboard/",
            during,
        ),
        fault_line("  the next 2 s", after),
        "  target: at most the requests in flight fail; the next ones succeed",
    ]


def test_pages_under_load_against_bare_django(tmp_path: Path, capsys) -> None:
    wrk_binary()
    t0 = time.monotonic()
    data = bigdata.load()
    member = force_signed_in(data.member)
    cookie = {"Cookie": f"sessionid={member.cookies['sessionid'].value}"}
    jwt = {"Authorization": f"Bearer {token_for(data.member).access_token}"}
    static_root = tmp_path / "static"
    prefix = f"mensc-bench-{os.getpid()}"
    env = site_env(static_root, prefix)
    collected = manage("collectstatic", "--noinput", "-v", "0", env=env)
    assert collected.returncode == 0, collected.stderr
    bare_env = {**env, "DJANGO_SETTINGS_MODULE": "tests.perf.bare.settings"}
    circle = data.member_circle.get_absolute_url()
    search = f"/circles/?q={bigdata.SEARCH_WORD}"
    meeting = data.member_meeting.get_absolute_url()
    pages = [
        Page("/api/v1/health/live", "/api/v1/health/live", Target(0.8)),
        Page("/api/v1/health/ready", "/api/v1/health/ready", Target(0.5)),
        Page("/api/v1/health", "/api/v1/health", Target()),
        Page("/ (home)", "/", Target(0.5)),
        Page("/circles/ (directory)", "/circles/", Target(0.2)),
        Page(search, search, Target(0.2)),
        Page("/circles/<slug>/ anonymous", circle, Target(0.2)),
        Page("/circles/<slug>/ member", circle, Target(0.2), cookie),
        Page("/dashboard/ (member)", "/dashboard/", Target(0.15), cookie),
        Page("/meetings/<pk>/ (member)", meeting, Target(), cookie),
        Page("/api/v1/circles/ (JWT)", "/api/v1/circles/", Target(0.2), jwt),
        Page("/api/v1/meetings/ (JWT)", "/api/v1/meetings/", Target(0.2), jwt),
        # The floor under every signed-in page: his session (creds) and his user
        # row (default), each behind its connection's health check, and nothing more.
        Page("/api/v1/me/ (member: the floor)", "/api/v1/me/", Target(), cookie),
        Page("/api/v1/me/ (JWT: the floor)", "/api/v1/me/", Target(), jwt),
    ]
    t1 = time.monotonic()
    try:
        with (
            gunicorn("mensc.wsgi:application", env, tmp_path, "/api/v1/health/live") as site,
            gunicorn("tests.perf.bare.wsgi:application", bare_env, tmp_path, "/") as bare,
        ):
            t_up = time.monotonic()
            for page in pages:
                # One connection a worker: each loads the page once or more, no queue left.
                wrk(site.url + page.path, WARM_SECONDS, page.headers, connections=WORKERS)
                site.settle()
            bare_runs = [wrk(bare.url + "/", SECONDS, {})]
            runs = [measure(site, page.path, page.headers) for page in pages]
            bare_runs.append(wrk(bare.url + "/", SECONDS, {}))
            rss, pss, bare_rss = site.rss_mb(), site.pss_mb(), bare.rss_mb()
            t_pages = time.monotonic()
            faults = redis_pause(site, cookie) + postgres_kill(site, cookie)
            log = site.log.read_text(errors="replace")
    finally:
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()
    t2 = time.monotonic()

    bare_rate = sum(r.rate for r in bare_runs) / len(bare_runs)
    rows = [
        ("bare Django view (first)", bare_runs[0], None),
        *[(page.label, run, page.target) for page, run in zip(pages, runs, strict=True)],
        ("bare Django view (last)", bare_runs[1], None),
    ]
    lines = table(rows, bare_rate)
    if any(run.seconds > SECONDS + 1 for run in runs):
        lines.append(f"* too slow for {SECONDS} s: measured over {SLOW_SECONDS} s")
    lines.append(
        f"RSS per worker after the load: {', '.join(f'{m:.0f}' for m in rss)} MB "
        f"(target ≤ 120 MB: {'met' if max(rss) <= 120 else 'NOT met'}); "
        f"PSS (shared pages split) {', '.join(f'{m:.0f}' for m in pss)} MB; "
        f"bare Django {', '.join(f'{m:.0f}' for m in bare_rss)} MB"
    )
    lines += faults
    with capsys.disabled():
        print(
            f"\n[benchmark] pages under load: gunicorn {WORKERS} sync workers, DEBUG off, "
            f"PostgreSQL x2 + Redis, {os.cpu_count()} cores, wrk {CONNECTIONS} connections, "
            f"{SECONDS} s a page (after {WARM_SECONDS} s to warm up); ratio to the mean of "
            f"the two bare runs ({bare_rate:,.0f} req/s)"
        )
        print(f"[benchmark]   data: {data.summary()}")
        for line in lines:
            print(f"[benchmark]   {line}")
        print(
            f"[benchmark]   wall time {t2 - t0:.0f} s: data {data.seconds:.0f} s, collectstatic "
            f"{t1 - t0 - data.seconds:.0f} s, servers up {t_up - t1:.0f} s, pages "
            f"{t_pages - t_up:.0f} s, faults {t2 - t_pages:.0f} s"
        )

    # The harness worked: both servers answered, and every page that answered
    # in time answered mostly with a 2xx (a session or a token the server
    # refused would show here as 302s and 401s). A page too slow to answer at
    # all is a figure in the table, not a broken harness.
    assert all(r.requests and not r.non2xx for r in bare_runs), bare_runs
    assert runs[0].requests, (pages[0].label, log[-3000:])
    for page, run in zip(pages, runs, strict=True):
        assert run.non2xx <= run.requests * 0.01, (page.label, run, log[-3000:])
