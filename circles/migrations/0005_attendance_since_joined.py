"""Remove attendance rows for meetings that started before the man joined the circle.

Opening a past meeting's admin page used to write a row for everyone active
that day, so a newcomer collected "unexcused absences" for meetings held
before he was a member. Those rows are wrong, not history: they go.
"""

from django.db import migrations
from django.db.models import Exists, OuterRef


def delete_rows_before_joining(apps, schema_editor):
    Attendance = apps.get_model("circles", "Attendance")
    Membership = apps.get_model("circles", "Membership")
    joined_later = Membership.objects.filter(
        circle_id=OuterRef("meeting__circle_id"),
        user_id=OuterRef("user_id"),
        joined_at__gt=OuterRef("meeting__starts_at"),
    )
    Attendance.objects.filter(Exists(joined_later)).delete()


class Migration(migrations.Migration):
    dependencies = [("circles", "0004_circle_week_fields")]

    operations = [
        migrations.RunPython(delete_rows_before_joining, migrations.RunPython.noop, elidable=True)
    ]
