"""The "Treasurers" group: who may see amounts and scholarship reasons.

The billing admin checks membership of the group itself (billing.admin);
the group only has to exist. Idempotent.
"""

from django.db import migrations


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).get_or_create(name="Treasurers")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
