"""Where the test suite finds its real services unless the environment says.

Standard library only: `python3 -m mensc test` reads it before Django exists.
"""

SERVICE_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mensc",
    "CREDS_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mensc_creds",
    # A database number of its own, so tests never touch a developer's cache.
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}
