"""Test settings: production shape (PostgreSQL x2 + Redis), fast hashing."""

import os

from tests.services import SERVICE_DEFAULTS

for _name, _value in SERVICE_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("SECRET_KEY", "test-" + "k3y-for-the-test-suite-only-" * 3)
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
# Production logs JSON and serves collected static files; tests (and the child
# processes they start) read plain logs and need no collectstatic. tests/deploy
# turns both back on where that is the point.
os.environ.setdefault("LOG_FORMAT", "plain")
os.environ.setdefault("STATIC_MANIFEST", "False")
# Each pytest-xdist worker (and a plain run) keeps its own cache keys.
os.environ.setdefault(
    "CACHE_KEY_PREFIX", "mensc-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
)

from mensc.settings import *  # noqa: E402,F403

# bcrypt is the production hasher (tested on its own); MD5 keeps the suite fast.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "notifications.sms.LocmemBackend"
# Most tests deliver at once; tests of db_worker use the database backend.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Each test process (a pytest-xdist worker or a plain run) keeps its own cache
# keys. Set here, not in the environment, which workers inherit from the
# controller; the worker id is not known yet when settings load, the pid is.
CACHES["default"]["KEY_PREFIX"] = f"mensc-test-{os.getpid()}"  # noqa: F405
