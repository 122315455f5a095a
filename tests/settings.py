"""Test settings: production shape (PostgreSQL x2 + Redis), fast hashing."""

import os

from tests.services import SERVICE_DEFAULTS

for _name, _value in SERVICE_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("SECRET_KEY", "test-" + "k3y-for-the-test-suite-only-" * 3)
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("CACHE_KEY_PREFIX", "mensc-test")

from mensc.settings import *  # noqa: E402,F403

# bcrypt is the production hasher (tested on its own); MD5 keeps the suite fast.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
