"""One settings module, read from the environment (12-factor).

With no environment at all the app runs on the *embedded default*: two SQLite
files under ``var/``, a local-memory cache, console email, DEBUG on. Setting
``DATABASE_URL`` + ``CREDS_DATABASE_URL`` + ``REDIS_URL`` gives the production
shape (PostgreSQL x2 + Redis), where DEBUG defaults to off. Every secret may
instead be given as a file through ``<NAME>_FILE`` (Docker / k8s secrets).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from mensc import __version__

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.FileAwareEnv()


def secret(name: str, default: str = "") -> str:
    """Read a secret from ``NAME`` or the file named by ``NAME_FILE``.

    Files written by editors and secret managers usually end in a newline,
    which is never part of the secret.
    """
    return env.str(name, default=default).strip()


# --- Core -------------------------------------------------------------------

EMBEDDED = "DATABASE_URL" not in env.ENVIRON
# The embedded default is for trying the app on a laptop; anything with a
# real database is treated as production unless DJANGO_DEBUG says otherwise.
DEBUG = env.bool("DJANGO_DEBUG", default=EMBEDDED)

INSECURE_DEV_KEY = "django-insecure-embedded-default-key-for-local-use-only"
SECRET_KEY = secret("SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = INSECURE_DEV_KEY
if not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")
):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing or too weak: with DJANGO_DEBUG off it must be at least "
        "50 random characters (set SECRET_KEY or SECRET_KEY_FILE). Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
VERSION = __version__

INSTALLED_APPS = [
    # Our apps first so their management commands (migrate, createsuperuser)
    # take precedence over Django's.
    "mensc",
    "notifications",
    "accounts",
    "circles",
    "billing",
    "events",
    "demo",
    "mensc.apps.AdminConfig",  # django.contrib.admin with our site (mensc.admin_site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "djstripe",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # First, so every response (and every log line) carries the request id.
    "mensc.middleware.RequestIdMiddleware",
    "mensc.middleware.RealIpMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mensc.middleware.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Load balancer probes are answered here: what follows is for people.
    "mensc.middleware.HealthProbeMiddleware",
    # Before the session: a cookie holding a NUL byte is dropped, never queried.
    "mensc.middleware.NulByteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after sign-in is known: nothing else runs for a man whose code is to come.
    "accounts.middleware.TwoFactorMiddleware",
    "accounts.middleware.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mensc.middleware.AdminSelectionMiddleware",
]

ROOT_URLCONF = "mensc.urls"
WSGI_APPLICATION = "mensc.wsgi.application"
ASGI_APPLICATION = "mensc.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mensc.context_processors.site",
                # After Django's csrf: a page made for the page cache holds a placeholder.
                "circles.caching.cache_csrf",
            ],
        },
    },
]

# --- Databases: people in `default`, every secret in `creds` ------------------

DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=3)


def database(var: str, sqlite_name: str) -> dict:
    # Through secret(): a URL holds a password and may come from a *_FILE
    # secret, whose trailing newline would otherwise end up in the name.
    config = env.db_url_config(secret(var) or f"sqlite:///{VAR_DIR / sqlite_name}")
    if config["ENGINE"] == "django.db.backends.postgresql":
        # A dead database must fail a health check in seconds, not minutes.
        config.setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT
        config["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {
    "default": database("DATABASE_URL", "main.sqlite3"),
    "creds": database("CREDS_DATABASE_URL", "creds.sqlite3"),
}
if EMBEDDED:
    VAR_DIR.mkdir(exist_ok=True)
DATABASE_ROUTERS = ["mensc.routers.CredentialsRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions ---------------------------------------------------------

REDIS_URL = secret("REDIS_URL")  # may hold a password, so may come from REDIS_URL_FILE
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="mensc"),
            "OPTIONS": {
                # A cache outage degrades the site; it must not take it down.
                "IGNORE_EXCEPTIONS": True,
                # ... nor slow it down: after one call fails to reach Redis, the
                # cache is skipped for BREAKER_SECONDS, then probed (mensc.cache).
                "CLIENT_CLASS": "mensc.cache.BreakerClient",
                "BREAKER_SECONDS": env.float("CACHE_BREAKER_SECONDS", default=5.0),
                # Redis answers in a millisecond; a request in flight when it
                # hangs waits this long once, then the breaker skips it.
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=0.5),
            },
        }
    }
    # The breaker logs once when Redis stops answering and once when it is back;
    # django-redis would log every skipped call.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions are bearer credentials: they rest in `creds` only, never in Redis,
# so Redis holds no secret, and a revocation is one DELETE that a cache which
# failed to forget (it fails open) cannot undo. Cost: one primary-key query on
# `creds` per request with a session (README, "Decisions").
SESSION_ENGINE = "accounts.session_backends.db"

# --- Authentication -------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
# Signed in, a man lands on his own page (his next meeting, his circles), not the landing page.
LOGIN_REDIRECT_URL = "circles:dashboard"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    # Accepted so that imported hashes are upgraded to bcrypt at next sign-in
    # (Argon2 would need argon2-cffi, which we do not ship).
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 3)
# purge_expired_credentials deletes sign-ups never verified after this many days.
UNVERIFIED_ACCOUNT_DAYS = env.int("UNVERIFIED_ACCOUNT_DAYS", default=14)

# --- Internationalisation ---------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# Phone numbers typed without a country code ("(415) 555-0123") are read as
# this country's (ISO 3166 code), unless the man's time zone names another.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US").upper()
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# Production serves what `collectstatic` wrote (at image build) from the web
# process through WhiteNoise: content-hashed names cached for a year,
# precompressed, so nginx or an Ingress in front needs no copy of the files.
# Off (development, tests), runserver serves /static/ from the app folders.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
if STATIC_MANIFEST:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

# --- Email ------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Men's Circle <circles@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# SendGrid once its key is set (see Vendors), else the console.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="notifications.email_backends.SendGridBackend"
    if secret("SENDGRID_API_KEY")
    else "django.core.mail.backends.console.EmailBackend",
)
# A sent message keeps its kind, channel, status and times; its subject and
# body are dropped after this many days (`manage.py purge_notifications`).
NOTIFICATION_BODY_DAYS = env.int("NOTIFICATION_BODY_DAYS", default=30)

# --- Vendors (secrets from the environment only, never a database) ---------------

SENDGRID_API_KEY = secret("SENDGRID_API_KEY")
# Tests point this at a local fake SendGrid.
SENDGRID_API_HOST = env.str("SENDGRID_API_HOST", default="https://api.sendgrid.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = secret("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Empty means Twilio's own host; tests point this at a local fake Twilio.
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="")
# Like EMAIL_BACKEND: Twilio once fully configured, else texts go to the console.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="notifications.sms.TwilioBackend"
    if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER
    else "notifications.sms.ConsoleBackend",
)
STRIPE_SECRET_KEY = secret("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = secret("STRIPE_WEBHOOK_SECRET")
# Tests point the stripe client at a local fake Stripe API.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith("sk_live_")
# The API version dj-stripe 2.11 is built for (its DEFAULT_STRIPE_API_VERSION);
# without it requests go out with the stripe library's newer default.
STRIPE_API_VERSION = "2026-05-27.dahlia"
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
# dj-stripe 2.11's own migrations take over a minute to plan (hundreds of
# RemoveField steps re-render the model state): one generated initial
# migration of its current models is created in a second. A new database
# only; regenerate after upgrading dj-stripe (see billing/djstripe_migrations).
MIGRATION_MODULES = {"djstripe": "billing.djstripe_migrations"}
# We verify webhooks ourselves (billing.views.stripe_webhook) with STRIPE_WEBHOOK_SECRET from
# the environment; dj-stripe's own endpoint and its stored secrets are unused.
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = secret("GOOGLE_CLIENT_SECRET")
# Tests point this at a local fake OpenID provider.
GOOGLE_DISCOVERY_URL = env.str(
    "GOOGLE_DISCOVERY_URL", default="https://accounts.google.com/.well-known/openid-configuration"
)

# --- Background work ----------------------------------------------------------------
# The embedded default runs tasks at once; production queues them in the
# database for `manage.py db_worker` (any number, on any hosts).

TASKS = {
    "default": {
        "BACKEND": env.str(
            "TASKS_BACKEND",
            default="django_tasks.backends.immediate.ImmediateBackend"
            if EMBEDDED
            else "django_tasks_db.DatabaseBackend",
        )
    }
}

# --- API --------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # DRF's JSON parser with a bound on nesting: a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "mensc.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # drf-spectacular's, adding the errors every operation of its kind can answer.
    "DEFAULT_SCHEMA_CLASS": "accounts.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=30)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7)
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="HS256")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ALGORITHM": JWT_ALGORITHM,
    # HS* sign with SECRET_KEY unless JWT_SIGNING_KEY is set; RS*/ES* need
    # JWT_SIGNING_KEY (private, PEM) and JWT_VERIFYING_KEY (public, PEM).
    "SIGNING_KEY": secret("JWT_SIGNING_KEY") or SECRET_KEY,
    "VERIFYING_KEY": secret("JWT_VERIFYING_KEY") or None,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Rotation and revocation are ours (accounts.api): see the note there.
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": False,
    "CHECK_REVOKE_TOKEN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Men's Circle API",
    "DESCRIPTION": "Health, circles, meetings and RSVPs for external clients.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components: required text is minLength 1, as DRF checks.
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted Swagger UI: no third-party CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status": each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CircleStatusEnum": "circles.models.Circle.Status",
        "MeetingStatusEnum": "circles.models.Meeting.Status",
        "EventStatusEnum": "events.models.Event.Status",
        "RegistrationStatusEnum": "events.models.Registration.Status",
    },
}

# CORS is for browser clients of the API only, and off until origins are named.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"

# --- Security (production defaults; each can be turned off from the env) ---------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Take the client's address from X-Real-IP (mensc.middleware.RealIpMiddleware):
# only behind a proxy that sets it and where nothing else reaches the app.
USE_X_REAL_IP = env.bool("USE_X_REAL_IP", default=False)
# Pages load only our own CSS/JS (htmx from /static/, no inline script or
# style); forms may post on to Stripe Checkout/Portal and Google sign-in.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self' https://checkout.stripe.com "
    "https://billing.stripe.com https://accounts.google.com",
)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets the header itself (nginx in deploy/).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health"]
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Preloading HSTS is a commitment for every subdomain that the operator makes
# by submitting the domain; the app cannot make it for them.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=["security.W021"])

# --- Logging ----------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# JSON lines with the request id in production (mensc.log); plain text for a
# person reading a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "mensc.log.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "mensc": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # Six INFO lines per request: too many at 10,000 texts a run.
        "twilio": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "stripe": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
