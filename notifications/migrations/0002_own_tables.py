"""The moved tables take this app's names; content types follow the models."""

from django.db import migrations, models

MODELS = ("notification", "smsoptout")


def content_types_to_notifications(apps, schema_editor):
    # The admin log and permissions point at content types: keep them pointing
    # at the same models. On a new database none exist yet.
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label="notifications", model=model):
            ContentType.objects.using(db).filter(app_label="mensc", model=model).update(
                app_label="notifications"
            )


def content_types_to_mensc(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label="mensc", model=model):
            ContentType.objects.using(db).filter(app_label="notifications", model=model).update(
                app_label="mensc"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("mensc", "0002_notifications_moved"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelTable(name="notification", table=None),
        migrations.AlterModelTable(name="smsoptout", table=None),
        migrations.RenameIndex(
            model_name="notification", new_name="notifications_due", old_name="mensc_notify_due"
        ),
        migrations.RemoveConstraint(model_name="notification", name="mensc_notify_once"),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                fields=("user", "channel", "kind", "subject_key"), name="notifications_once"
            ),
        ),
        migrations.RunPython(content_types_to_notifications, content_types_to_mensc),
    ]
