"""Queue the day-before event reminders and deliver every due message (cron: hourly)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from events.reminders import queue_event_reminders
from notifications import delivery


class Command(BaseCommand):
    help = (
        "Queue event reminders (email, and SMS for men who chose texts, the day before each "
        "event) and deliver every due message. Safe to run on several hosts at once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--threads", type=int, default=16, help="Messages in flight at once (default 16)."
        )
        parser.add_argument("--batch", type=int, default=200, help="Rows claimed per round.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        queued = queue_event_reminders()
        tty = sys.stdout.isatty()
        last = [0.0]

        def progress(outcome: delivery.Outcome) -> None:
            if tty and time.monotonic() - last[0] > 1:
                last[0] = time.monotonic()
                self.stdout.write(
                    f"\r{outcome.sent} sent, {outcome.transient + outcome.permanent} failed",
                    ending="",
                )

        outcome = delivery.deliver_due(
            batch=options["batch"], threads=max(1, options["threads"]), progress=progress
        )
        if tty:
            self.stdout.write("")
        self.stdout.write(
            f"Event reminders queued: {queued}. Delivered: {outcome.sent} sent, "
            f"{outcome.skipped} skipped, {outcome.transient} failed (will retry), "
            f"{outcome.permanent} failed (permanently) in {time.monotonic() - started:.1f} s."
        )
