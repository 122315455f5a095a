"""The production stack, for real: gunicorn (deploy/gunicorn.conf.py, production
settings, PostgreSQL x2 + Redis) behind nginx (Debian's package, deploy/nginx.conf
over TLS), checked from the outside the way a browser and a load balancer see it.

One test on purpose: the servers start once (a few seconds) and pytest-xdist
would otherwise start them once per worker.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

from tests.deploy.servers import Gunicorn, Nginx, gunicorn, nginx, production_env, stop
from tests.proc import manage

# The servers use the suite's test databases (committed state only: migrations),
# which pytest-django creates only for a run that has a test marked so.
pytestmark = pytest.mark.django_db(databases="__all__")
YEAR = 365 * 24 * 60 * 60
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_check_deploy_is_clean_in_the_smoke_test_environment(prod_env) -> None:
    proc = manage("check", "--deploy", "--fail-level", "WARNING", env=prod_env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_check_deploy_warns_when_static_files_were_not_collected(tmp_path: Path) -> None:
    proc = manage("check", "--deploy", env=production_env(tmp_path))

    assert "mensc.W001" in proc.stderr + proc.stdout
    assert "collectstatic" in proc.stderr + proc.stdout


def test_gunicorn_behind_nginx_serves_the_site_in_production(prod_env, tmp_path: Path) -> None:
    started = time.monotonic()
    with gunicorn(prod_env, tmp_path) as web, nginx(web.port) as proxy:
        assert time.monotonic() - started < 30, "the stack took too long to start"
        check_probes(proxy)
        page = check_landing_page_and_security_headers(proxy)
        check_static_files(proxy, page)
        check_request_ids_in_every_log(proxy, web)
        check_no_secret_reaches_a_log(proxy, web)
        check_limits(proxy)
        stop(web.proc)
        check_friendly_page_while_the_app_is_down(proxy)
        check_every_log_line_is_json(proxy, web)


def check_probes(proxy: Nginx) -> None:
    response, body = proxy.request("GET", "/api/v1/health")
    assert response.status == 200, body
    report = json.loads(body)
    assert report["status"] == "healthy"
    for dependency in ("database", "credentials_database", "cache"):
        assert report[dependency]["status"] == "up", report

    for path, answer in [
        ("/api/v1/health/ready", {"status": "ready"}),
        ("/api/v1/health/live", {"status": "alive"}),
        ("/api/v1/health/ready/", {"status": "ready"}),
    ]:
        response, body = proxy.request("GET", path)
        assert (response.status, json.loads(body)) == (200, answer), path
        # Load balancers probe nginx over plain HTTP: answered, not redirected.
        response, body = proxy.request("GET", path, https=False)
        assert (response.status, json.loads(body)) == (200, answer), f"http {path}"

    # Everything else on plain HTTP goes to HTTPS.
    response, _ = proxy.request("GET", "/circles/", https=False)
    assert response.status == 301
    assert response.getheader("Location", "").startswith("https://")


def check_landing_page_and_security_headers(proxy: Nginx) -> str:
    response, body = proxy.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/html")
    assert response.getheader("Content-Encoding") == "gzip", "nginx gzips pages"
    page = gzip.decompress(body).decode()
    assert "<h1>Men's Circle</h1>" in page
    assert 'href="/accounts/login/"' in page

    # HSTS: nginx terminated TLS and told Django (X-Forwarded-Proto).
    hsts = response.getheader("Strict-Transport-Security", "")
    assert f"max-age={YEAR}" in hsts
    assert "includeSubDomains" in hsts
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert response.getheader("X-Frame-Options") == "DENY"
    csp = response.getheader("Content-Security-Policy", "")
    assert csp == settings.CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert response.getheader("Server") == "nginx", "server_tokens off: no version"
    return page


def check_static_files(proxy: Nginx, page: str) -> None:
    # The page links the collected, content-hashed file.
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, "the landing page does not link a hashed site.css"
    response, body = proxy.request("GET", stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/css")
    cache = response.getheader("Cache-Control", "")
    assert "immutable" in cache and "public" in cache
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))
    assert max_age >= YEAR
    assert response.getheader("Content-Encoding") == "gzip"
    assert b".skip-link" in gzip.decompress(body)
    # htmx, from our own /static/ like everything the CSP allows.
    htmx = re.search(r'src="(/static/vendor/htmx/htmx\.min\.[0-9a-f]{12}\.js)"', page)
    assert htmx, "the landing page does not load htmx from /static/"
    response, _ = proxy.request("GET", htmx.group(1))
    assert response.status == 200
    assert "immutable" in response.getheader("Cache-Control", "")


def json_lines(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.strip()]


def check_request_ids_in_every_log(proxy: Nginx, web: Gunicorn) -> None:
    # The caller's id, when sane, is used everywhere.
    given = f"smoke-{secrets.token_hex(8)}"
    response, body = proxy.request("GET", "/no-such-page/", headers={"X-Request-ID": given})
    assert response.status == 404
    assert b"Page not found" in body, "the friendly 404 page"
    assert response.getheader("X-Request-ID") == given
    time.sleep(0.3)  # let both servers flush their log lines
    app_lines = [e for e in json_lines(web.log_lines()) if e.get("request_id") == given]
    loggers = {entry["logger"] for entry in app_lines}
    assert {"django.request", "gunicorn.access"} <= loggers, app_lines
    not_found = next(e for e in app_lines if e["logger"] == "django.request")
    assert not_found["level"] == "WARNING" and "/no-such-page/" in not_found["message"]
    access = next(e for e in app_lines if e["logger"] == "gunicorn.access")
    assert (access["method"], access["path"], access["status"]) == ("GET", "/no-such-page/", 404)
    assert [e for e in json_lines(proxy.access_log()) if e["request_id"] == given]

    # No id, or a bad one: nginx makes one, and the app uses that one.
    for headers in ({}, {"X-Request-ID": 'bad id "with" spaces'}):
        response, _ = proxy.request("GET", "/api/v1/health/live", headers=headers)
        made = response.getheader("X-Request-ID", "")
        assert HEX32.match(made), made
        time.sleep(0.3)
        assert [e for e in json_lines(web.log_lines()) if e.get("request_id") == made]
        assert [e for e in json_lines(proxy.access_log()) if e["request_id"] == made]


def check_no_secret_reaches_a_log(proxy: Nginx, web: Gunicorn) -> None:
    token = secrets.token_urlsafe(24)
    password = "Smoke-" + secrets.token_urlsafe(12)
    for path in (
        f"/calendar/{token}.ics",
        f"/accounts/verify/{token}/",
        f"/accounts/password/reset/MQ/{token}/",
        f"/calendar/{token}.ics?key={token}",
    ):
        response, _ = proxy.request("GET", path)
        assert response.status < 500, path

    # A real sign-in attempt, CSRF token and all: the password is in the body.
    response, body = proxy.request("GET", "/accounts/login/")
    cookie = SimpleCookie(response.getheader("Set-Cookie"))["csrftoken"].value
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    origin = f"https://127.0.0.1:{proxy.https_port}"
    response, body = proxy.request(
        "POST",
        "/accounts/login/",
        body=urlencode(
            {"csrfmiddlewaretoken": csrf, "username": "nobody@example.com", "password": password}
        ).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
            "Origin": origin,
            "Referer": f"{origin}/accounts/login/",
        },
    )
    assert response.status == 200, body[:500]
    assert b"errorlist" in body or b"Please enter a correct" in body, "the form answered"

    time.sleep(0.3)
    logs = "\n".join([*web.log_lines(), *proxy.access_log(), proxy.error_log()])
    assert token not in logs
    assert password not in logs
    assert csrf not in logs and cookie not in logs
    assert "/calendar/[redacted].ics" in logs


def check_limits(proxy: Nginx) -> None:
    # Request size: nginx refuses a body over 2 MB before the app sees it.
    response, _ = proxy.request(
        "POST",
        "/accounts/signup/",
        body=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status == 413

    # Sign-in posts per address: a burst, then 429 (pages are not limited).
    statuses = [proxy.request("POST", "/accounts/login/", body=b"")[0].status for _ in range(25)]
    assert 429 in statuses, statuses
    assert statuses[0] != 429
    assert proxy.request("GET", "/accounts/login/")[0].status == 200
    # The admin's sign-in shares the limit: its burst is spent too.
    assert proxy.request("POST", "/admin/login/", body=b"")[0].status == 429
    assert proxy.request("GET", "/admin/login/")[0].status == 200


def check_friendly_page_while_the_app_is_down(proxy: Nginx) -> None:
    response, body = proxy.request("GET", "/")
    assert response.status == 503
    assert response.getheader("Retry-After") == "30"
    assert b"Back in a moment" in body


def check_every_log_line_is_json(proxy: Nginx, web: Gunicorn) -> None:
    entries = json_lines(web.log_lines())  # raises on a line that is not JSON
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= {e["logger"] for e in entries}
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert json_lines(proxy.access_log())
