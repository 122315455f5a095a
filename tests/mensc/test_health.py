from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from tests.conftest import capture_all_queries, signed_in
from tests.proc import DEAD_POSTGRES, DEAD_REDIS, child_env, client_run, manage

DEPENDENCIES = ("database", "credentials_database", "cache")


def both_slashes(url: str) -> list[str]:
    return [url, url + "/"]


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("url", both_slashes("/api/v1/health"))
def test_health_reports_every_dependency_up(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "mensc"
    assert body["version"] == "0.1.0"
    for name in DEPENDENCIES:
        assert body[name]["status"] == "up"
        assert isinstance(body[name]["latency_ms"], float)
        assert body[name]["latency_ms"] >= 0


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("url", both_slashes("/api/v1/health/ready"))
def test_ready_answers_ready(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.parametrize("url", both_slashes("/api/v1/health/live"))
def test_live_answers_without_touching_any_database(client: Client, url: str) -> None:
    # No django_db mark: any database access here would raise and give a 500.
    response = client.get(url)

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db(databases="__all__")
def test_live_runs_zero_sql_queries_even_for_a_signed_in_member(member) -> None:
    client = signed_in(member)

    with capture_all_queries() as captured:
        response = client.get("/api/v1/health/live")

    assert response.status_code == 200
    assert {alias: len(c.captured_queries) for alias, c in captured.items()} == {
        "default": 0,
        "creds": 0,
    }


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "url",
    ["/api/v1/", "/api/v1/health", "/api/v1/health/ready/", "/api/v1/schema/?format=json"],
)
@pytest.mark.parametrize("persona", [None, "member", "staff", "superuser"])
def test_public_api_urls_need_no_credentials_and_answer_anyone(
    request, url: str, persona: str | None
) -> None:
    client = signed_in(request.getfixturevalue(persona)) if persona else Client()

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(("application/json", "application/vnd.oai"))


@pytest.mark.django_db(databases="__all__")
def test_api_root_says_welcome_and_version(client: Client) -> None:
    response = client.get("/api/v1/")

    assert response.json() == {
        "message": "Welcome to Men's Circle Management Platform",
        "version": "0.1.0",
    }


@pytest.mark.django_db(databases="__all__")
def test_wrong_method_on_health_is_a_json_405(client: Client) -> None:
    response = client.post("/api/v1/health")

    assert response.status_code == 405
    assert "detail" in response.json()


@pytest.mark.django_db(databases="__all__")
def test_unknown_api_url_is_a_json_404(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db(databases="__all__")
def test_unknown_page_is_an_html_404(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert b"Page not found" in response.content


@pytest.mark.django_db(databases="__all__")
def test_health_command_prints_the_report(capsys) -> None:
    call_command("health")

    out = capsys.readouterr().out
    assert '"status": "healthy"' in out
    assert '"credentials_database"' in out


# --- Outages: a child process pointed at dead ports ---------------------------

PROBES = [
    {"do": "get", "path": "/api/v1/health"},
    {"do": "get", "path": "/api/v1/health/ready"},
    {"do": "get", "path": "/api/v1/health/live"},
]


@pytest.mark.parametrize(
    ("variable", "dependency"),
    [("DATABASE_URL", "database"), ("CREDS_DATABASE_URL", "credentials_database")],
)
def test_a_dead_database_makes_health_and_ready_503_but_not_live(
    django_db_setup, variable: str, dependency: str
) -> None:
    env = child_env(**{variable: DEAD_POSTGRES})

    (health, ready, live), _ = client_run(PROBES, env)

    assert health["status"] == 503
    assert health["json"]["status"] == "unhealthy"
    assert health["json"][dependency]["status"] == "down"
    others = {"database", "credentials_database"} - {dependency}
    assert all(health["json"][name]["status"] == "up" for name in others)
    assert ready["status"] == 503
    assert ready["json"] == {"status": "unavailable", "down": [dependency]}
    assert live["status"] == 200
    assert live["json"] == {"status": "alive"}


def test_health_command_exits_non_zero_naming_the_dead_database(django_db_setup) -> None:
    proc = manage("health", env=child_env(CREDS_DATABASE_URL=DEAD_POSTGRES))

    assert proc.returncode == 1
    assert '"status": "unhealthy"' in proc.stdout
    assert "credentials_database down" in proc.stderr


def test_redis_down_fails_health_but_not_ready_and_pages_still_render(tmp_path) -> None:
    env = child_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'main.sqlite3'}",
        CREDS_DATABASE_URL=f"sqlite:///{tmp_path / 'creds.sqlite3'}",
        REDIS_URL=DEAD_REDIS,
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0

    steps = [
        *PROBES,
        {"do": "get", "path": "/"},
        {"do": "create_user", "email": "dan@example.com", "password": "Quiet-river-stone-47"},
        {
            "do": "post",
            "path": "/accounts/login/",
            "data": {"username": "dan@example.com", "password": "Quiet-river-stone-47"},
        },
        # The session is read back from the database when the cache is gone.
        {"do": "get", "path": "/accounts/password/change/"},
    ]
    (health, ready, live, home, login, signed_in_page), stderr = client_run(steps, env)

    assert health["status"] == 503
    assert health["json"]["cache"]["status"] == "down"
    assert health["json"]["database"]["status"] == "up"
    assert ready["status"] == 200
    assert live["status"] == 200
    assert home["status"] == 200
    assert "Men&#x27;s Circle" in home["text"] or "Men's Circle" in home["text"]
    assert login["status"] == 302
    assert signed_in_page["status"] == 200
    assert "Change your password" in signed_in_page["text"]
    # Cache errors are logged, not raised: once, when the breaker opens (mensc.cache).
    assert stderr.count("WARNING mensc.cache Redis at 127.0.0.1:1 did not answer") == 1, stderr


# --- Probes skip the middleware that is for people -------------------------------------

PROBE_URLS = ["/api/v1/health", "/api/v1/health/ready/", "/api/v1/health/live"]


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("url", PROBE_URLS)
def test_probes_are_answered_before_sessions_and_sign_in(member, url: str) -> None:
    client = signed_in(member)

    with capture_all_queries() as captured:
        probe = client.get(url)
    page = client.get("/api/v1/")  # the rest of the API goes the whole way

    assert probe.status_code == 200
    # What SessionMiddleware, MessageMiddleware and HtmxMiddleware leave on a request.
    left_by_middleware = ("session", "_messages", "htmx")
    assert not any(hasattr(probe.wsgi_request, name) for name in left_by_middleware)
    assert all(hasattr(page.wsgi_request, name) for name in left_by_middleware)
    assert not any("session" in q["sql"] for c in captured.values() for q in c.captured_queries)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("url", PROBE_URLS)
def test_probes_keep_the_headers_every_answer_carries(client: Client, url: str) -> None:
    probe = client.get(url, HTTP_X_REQUEST_ID="lb-probe-1")
    page = client.get("/api/v1/")

    assert probe["X-Request-ID"] == "lb-probe-1"
    assert probe["Content-Length"] == str(len(probe.content))
    for header in (
        "Content-Type",
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
    ):
        assert probe[header] == page[header], header


@pytest.mark.django_db(databases="__all__")
def test_a_head_probe_is_answered_and_other_methods_go_the_whole_way(client: Client) -> None:
    head = client.head("/api/v1/health/live/")
    put = client.put("/api/v1/health/live/")

    assert head.status_code == 200
    assert not hasattr(head.wsgi_request, "session")
    assert put.status_code == 405
    assert put.json() == {"detail": 'Method "PUT" not allowed.'}
    assert hasattr(put.wsgi_request, "session")
