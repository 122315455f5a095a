"""The "Organisers" group and the model permissions the events admin needs.

Which events an organiser sees is decided by the event's organisers (and a
circle's facilitators for its events), see events/admin.py; this group only
opens the admin pages to him. Idempotent: running it again adds what is
missing and removes nothing. events.groups does the same after every migrate.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Organisers"
PERMISSIONS = [
    "add_event",
    "view_event",
    "change_event",
    "add_tickettier",
    "view_tickettier",
    "change_tickettier",
    "delete_tickettier",
    "add_question",
    "view_question",
    "change_question",
    "delete_question",
    "view_registration",
    "change_registration",
    "view_answer",
]


def create_group(apps, schema_editor):
    using = schema_editor.connection.alias
    # Permissions are normally created after `migrate` (post_migrate); this
    # migration needs them now, on a fresh database too.
    for label in ("contenttypes", "auth", "events"):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    permissions = Permission.objects.using(using).filter(
        content_type__app_label="events", codename__in=PERMISSIONS
    )
    group.permissions.add(*permissions)


def delete_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # No model named: the router runs this on `default` only, where auth lives.
    operations = [migrations.RunPython(create_group, delete_group)]
