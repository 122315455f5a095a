"""Sessions no longer rest in Redis: forget the copies the cached_db engine left there.

Those entries are named by the session key itself (a bearer credential) and
would otherwise stay in Redis until they expire, up to two weeks. Nobody is
signed out: the sessions themselves are rows in `creds`. A local-memory cache
(the embedded default) held nothing across processes and has no pattern delete.
"""

from django.core.cache import cache
from django.db import migrations

CACHED_DB_PREFIX = "django.contrib.sessions.cached_db"


def forget_cached_sessions(apps, schema_editor):
    delete_pattern = getattr(cache, "delete_pattern", None)  # django-redis
    if delete_pattern is not None:
        delete_pattern(f"{CACHED_DB_PREFIX}*")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_no_links_at_rest"),
    ]

    operations = [migrations.RunPython(forget_cached_sessions, migrations.RunPython.noop)]
