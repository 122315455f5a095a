"""Queue the day-before event reminders and deliver every due message (cron: hourly)."""

from __future__ import annotations

from events.reminders import queue_event_reminders
from notifications.management.queue_and_deliver import QueueAndDeliverCommand


class Command(QueueAndDeliverCommand):
    help = (
        "Queue event reminders (email, and SMS for men who chose texts, the day before each "
        "event) and deliver every due message. Safe to run on several hosts at once."
    )
    queued_label = "Event reminders"

    def queue(self) -> int:
        return queue_event_reminders()
