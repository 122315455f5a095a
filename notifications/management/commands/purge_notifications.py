"""Drop the subject and body of old messages, and old task records (cron: daily)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications.delivery import bodies_purge, task_results_purge

TASK_RESULT_DAYS = 1


class Command(BaseCommand):
    help = (
        "Drop the subject and body of every message done with more than "
        "NOTIFICATION_BODY_DAYS ago (kind, channel, status and times stay), and the "
        "records of background tasks finished more than a day ago."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep bodies this many days (default NOTIFICATION_BODY_DAYS, "
            f"{settings.NOTIFICATION_BODY_DAYS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.NOTIFICATION_BODY_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        purged = bodies_purge(older_than=timezone.now() - timedelta(days=days))
        self.stdout.write(f"Message bodies dropped: {purged} (older than {days} days).")
        dropped = task_results_purge(older_than=timezone.now() - timedelta(days=TASK_RESULT_DAYS))
        self.stdout.write(f"Task records dropped: {dropped} (finished over a day ago).")
