"""The shape of every "queue these reminders, then deliver what is due" command.

A subclass names what it queues (``queue``) and how its summary line calls
them (``queued_label``); claiming, sending in threads, retries and the summary
are the same for meetings' reminders and events'.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from notifications import delivery


class QueueAndDeliverCommand(BaseCommand):
    queued_label = "Reminders"

    def queue(self) -> int:
        """Queue this command's messages; how many."""
        raise NotImplementedError

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--threads", type=int, default=16, help="Messages in flight at once (default 16)."
        )
        parser.add_argument("--batch", type=int, default=200, help="Rows claimed per round.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        queued = self.queue()
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
            f"{self.queued_label} queued: {queued}. Delivered: {outcome.sent} sent, "
            f"{outcome.skipped} skipped, {outcome.transient} failed (will retry), "
            f"{outcome.permanent} failed (permanently) in {time.monotonic() - started:.1f} s."
        )
