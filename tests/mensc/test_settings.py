from __future__ import annotations

import json

import pytest

from tests.proc import SECRET, child_env, manage

PRODUCTION = {
    "DJANGO_DEBUG": "False",
    "ALLOWED_HOSTS": "circles.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://circles.example.org",
    "SITE_URL": "https://circles.example.org",
}


@pytest.fixture
def env(django_db_setup) -> dict[str, str]:
    return child_env(**PRODUCTION)


def test_check_deploy_is_clean_in_production(env: dict[str, str]) -> None:
    proc = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout


@pytest.mark.parametrize(
    "key",
    ["", "short-key", "a" * 60, "django-insecure-" + "x1y2z3w4" * 8],
    ids=["missing", "short", "repetitive", "django-insecure"],
)
def test_production_refuses_to_start_with_a_weak_secret_key(env, key: str) -> None:
    env["SECRET_KEY"] = key

    proc = manage("check", env=env)

    assert proc.returncode != 0
    assert "SECRET_KEY is missing or too weak" in proc.stderr


def test_secrets_can_come_from_files(env, tmp_path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(SECRET + "\n")  # secret files usually end in a newline
    del env["SECRET_KEY"]
    env["SECRET_KEY_FILE"] = str(secret_file)

    proc = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env=env,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == SECRET


def test_debug_on_without_a_secret_key_uses_a_development_key(env) -> None:
    env["DJANGO_DEBUG"] = "True"
    del env["SECRET_KEY"]

    proc = manage("check", env=env)

    assert proc.returncode == 0, proc.stderr


def test_embedded_default_runs_on_two_sqlite_files_and_locmem(tmp_path) -> None:
    env = child_env()
    for name in ("DATABASE_URL", "CREDS_DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "SECRET_KEY"):
        del env[name]

    proc = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'],"
        " s.DATABASES['creds']['ENGINE'], s.CACHES['default']['BACKEND'], s.EMAIL_BACKEND,"
        " s.DATABASES['default']['NAME'], s.DATABASES['creds']['NAME'])",
        env=env,
    )

    assert proc.returncode == 0, proc.stderr
    debug, main, creds, cache, email, main_file, creds_file = proc.stdout.split()
    assert debug == "True"
    assert main == creds == "django.db.backends.sqlite3"
    assert cache.endswith("LocMemCache")
    assert email.endswith("console.EmailBackend")
    assert main_file.endswith("var/main.sqlite3")
    assert creds_file.endswith("var/creds.sqlite3")


LOADERS = """
import json
from django.template import engines
def name(loader):
    return type(loader).__module__ + "." + type(loader).__name__
print(json.dumps({
    name(loader): [name(inner) for inner in getattr(loader, "loaders", [])]
    for loader in engines["django"].engine.template_loaders
}))
"""


def test_production_keeps_compiled_templates_in_memory(env: dict[str, str]) -> None:
    # Django wraps its loaders in the cached one when TEMPLATES names no `loaders`;
    # a `loaders` option added there would silently compile every template per request.
    proc = manage("shell", "-c", LOADERS, env=env)

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "django.template.loaders.cached.Loader": [
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ]
    }
