"""The canonical email key is the uniqueness rule; LOWER(email) no longer is."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_fill_email_keys"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="user",
            name="accounts_user_email_ci_unique",
        ),
        migrations.AlterField(
            model_name="user",
            name="email_key",
            field=models.CharField(
                editable=False,
                error_messages={"unique": "An account with this email address already exists."},
                max_length=512,
                unique=True,
            ),
        ),
    ]
