"""Cron (daily): create every meeting circles will hold in the coming weeks."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from circles.scheduling import DEFAULT_WEEKS, circles_to_schedule, schedule_circle

MAX_WEEKS = 52
PROGRESS_SECONDS = 1.0


class Command(BaseCommand):
    help = (
        "Create the meetings of every forming, open or full circle for the next N weeks, "
        "each with a leader in rotation. Idempotent; safe to run on several hosts at once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--weeks",
            type=int,
            default=DEFAULT_WEEKS,
            help=f"How many weeks ahead to schedule (1-{MAX_WEEKS}, default {DEFAULT_WEEKS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        weeks = options["weeks"]
        if not 1 <= weeks <= MAX_WEEKS:
            raise CommandError(f"--weeks must be between 1 and {MAX_WEEKS}.")
        circles = list(circles_to_schedule())
        tty = self.stdout.isatty()
        created = 0
        last_report = time.monotonic()
        for done, circle in enumerate(circles, start=1):
            created += schedule_circle(circle, weeks=weeks)
            if tty and (time.monotonic() - last_report >= PROGRESS_SECONDS or done == len(circles)):
                last_report = time.monotonic()
                self.stdout.write(f"\r{done}/{len(circles)} circles, {created} meetings", ending="")
                self.stdout.flush()
        if tty and circles:
            self.stdout.write("")
        self.stdout.write(f"Scheduled {created} meetings for {len(circles)} circles.")
