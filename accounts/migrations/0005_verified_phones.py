"""Verified phone numbers: a number gets texts only once its owner typed back a code.

Numbers already on file start unverified (nobody ever proved them): their
owners get no text until they verify them from their settings.
"""

import django.utils.timezone
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_forget_cached_sessions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="PhoneChallenge",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("user_id", models.BigIntegerField(unique=True)),
                ("phone", models.CharField(max_length=20)),
                ("code_hash", models.CharField(max_length=64)),
                ("tries", models.PositiveSmallIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="phone_verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="phone",
            field=models.CharField(
                blank=True, db_index=True, help_text="E.164, e.g. +14155550123", max_length=20
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=models.Q(("phone_verified_at__isnull", False)),
                fields=("phone",),
                name="accounts_user_verified_phone_unique",
                violation_error_message="This mobile number is verified by another account.",
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("phone_verified_at__isnull", True),
                    models.Q(("phone", ""), _negated=True),
                    _connector="OR",
                ),
                name="accounts_user_verified_phone_not_empty",
            ),
        ),
    ]
