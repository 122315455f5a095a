"""The "Facilitators" group and the model permissions the facilitator admin needs.

Which circles a facilitator sees is decided by his memberships (see
circles/admin.py); this group only opens the admin pages to him. Idempotent:
running it again adds what is missing and removes nothing.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Facilitators"
PERMISSIONS = [
    "view_circle",
    "change_circle",
    "view_membership",
    "change_membership",
    "add_meeting",
    "view_meeting",
    "change_meeting",
    "add_attendance",
    "view_attendance",
    "change_attendance",
    "add_agreement",
    "view_agreement",
    # Private notes about members: the admin shows each facilitator only his own.
    "add_facilitatornote",
    "view_facilitatornote",
    "change_facilitatornote",
    "delete_facilitatornote",
]


def create_group(apps, schema_editor):
    using = schema_editor.connection.alias
    # Permissions are normally created after `migrate` (post_migrate); this
    # migration needs them now, on a fresh database too.
    for label in ("contenttypes", "auth", "circles"):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    permissions = Permission.objects.using(using).filter(
        content_type__app_label="circles", codename__in=PERMISSIONS
    )
    group.permissions.add(*permissions)


def delete_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("circles", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # No model named: the router runs this on `default` only, where auth lives.
    operations = [migrations.RunPython(create_group, delete_group)]
