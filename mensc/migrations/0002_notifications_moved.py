"""The notification log now belongs to the `notifications` app.

State only: the tables are not dropped; notifications 0001 took them over.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mensc", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="SmsOptOut"),
            ],
            database_operations=[],
        ),
    ]
