"""Queue due meeting reminders and deliver every due message (cron: every 5 minutes)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from circles.reminders import queue_reminders
from notifications import delivery


class Command(BaseCommand):
    help = (
        "Queue reminders (email ~24 h, SMS ~2 h before each meeting) and deliver every due "
        "message, retrying transient failures. Safe to run on several hosts at once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--threads", type=int, default=16, help="Messages in flight at once (default 16)."
        )
        parser.add_argument("--batch", type=int, default=200, help="Rows claimed per round.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        queued = queue_reminders()
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
            f"Reminders queued: {queued}. Delivered: {outcome.sent} sent, {outcome.skipped} "
            f"skipped, {outcome.transient} failed (will retry), {outcome.permanent} failed "
            f"(permanently) in {time.monotonic() - started:.1f} s."
        )
