"""One scholarship request waiting per member, held by the database.

Before the constraint, parallel requests could leave two waiting for one
member. Any such extra (every waiting request but his earliest) is closed as
declined, with no decider and its reason kept for the treasurers to read, so
the constraint can be added.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone


def close_duplicates(apps, schema_editor):
    Scholarship = apps.get_model("billing", "Scholarship")
    waiting = Scholarship.objects.using(schema_editor.connection.alias).filter(status="requested")
    doubled = waiting.order_by().values("user_id").annotate(n=Count("id")).filter(n__gt=1)
    for row in doubled:
        mine = waiting.filter(user_id=row["user_id"]).order_by("requested_at", "id")
        extra = list(mine.values_list("id", flat=True)[1:])
        waiting.filter(id__in=extra).update(status="declined", decided_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_treasurers_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(close_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="scholarship",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "requested")),
                fields=("user",),
                name="billing_one_open_scholarship_request",
            ),
        ),
    ]
