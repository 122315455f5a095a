"""The notification log moves here from `mensc`, rows and all.

The tables stay where they are (``mensc_*``) while the models change app in
Django's state only; 0002 renames them. No row is copied.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("mensc", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SmsOptOut",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("phone", models.CharField(max_length=20, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "mensc_smsoptout"},
                ),
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                choices=[("email", "Email"), ("sms", "SMS")], max_length=5
                            ),
                        ),
                        ("kind", models.CharField(max_length=40)),
                        ("subject_key", models.CharField(max_length=100)),
                        ("subject", models.CharField(blank=True, max_length=200)),
                        ("body", models.TextField()),
                        ("html_body", models.TextField(blank=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("delivered", "Delivered"),
                                    ("failed_transient", "Failed, will retry"),
                                    ("failed_permanent", "Failed"),
                                    ("skipped", "Skipped"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("at_most_once", models.BooleanField(default=False)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        (
                            "next_attempt_at",
                            models.DateTimeField(default=django.utils.timezone.now),
                        ),
                        (
                            "provider_id",
                            models.CharField(blank=True, db_index=True, max_length=100),
                        ),
                        ("error", models.CharField(blank=True, max_length=300)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "mensc_notification",
                        "indexes": [
                            models.Index(
                                fields=["status", "next_attempt_at"], name="mensc_notify_due"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "channel", "kind", "subject_key"),
                                name="mensc_notify_once",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
