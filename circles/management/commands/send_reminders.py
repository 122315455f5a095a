"""Queue due meeting reminders and deliver every due message (cron: every 5 minutes)."""

from __future__ import annotations

from circles.reminders import queue_reminders
from notifications.management.queue_and_deliver import QueueAndDeliverCommand


class Command(QueueAndDeliverCommand):
    help = (
        "Queue reminders (email ~24 h, SMS ~2 h before each meeting) and deliver every due "
        "message, retrying transient failures. Safe to run on several hosts at once."
    )

    def queue(self) -> int:
        return queue_reminders()
