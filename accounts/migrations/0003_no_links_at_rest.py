"""Verification and reset emails queued before links were minted at delivery
held their working link in the main database: drop those bodies.

A message still waiting is not sent with a stale body: it fails for good, and
the member asks for a new link (the pages say how). Kind, channel, status and
times stay.
"""

from django.db import migrations

KINDS = ("verify_email", "password_reset")
WAITING = ("pending", "sending", "failed_transient")


def drop_link_bodies(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    rows = Notification.objects.using(schema_editor.connection.alias).filter(kind__in=KINDS)
    rows.filter(status__in=WAITING).update(
        status="failed_permanent", error="Its link was not kept; ask for a new one."
    )
    rows.update(subject="", body="", html_body="")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_profile_google_tokens_sessions"),
        ("notifications", "0002_own_tables"),
    ]

    operations = [migrations.RunPython(drop_link_bodies, migrations.RunPython.noop)]
