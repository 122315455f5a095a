"""Cron (every scheduler pass): remind facilitators daily of requests waiting 3 days (and
the superusers of those waiting 7), and stop a request unanswered for 14 days from holding
its seat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from circles.services import (
    ANSWER_DAYS,
    OVERDUE_DAYS,
    REQUEST_DAYS,
    requests_expire,
    requests_nudge,
)


class Command(BaseCommand):
    help = (
        f"Remind each circle's facilitators, in one email a day, of the join requests waiting "
        f"{ANSWER_DAYS} days or more (and the superusers of those waiting {OVERDUE_DAYS}); "
        f"expire join requests no facilitator answered in {REQUEST_DAYS} days, tell each man, "
        "and offer the freed seats to the waitlist. Safe to run on several hosts at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        nudged = requests_nudge()
        self.stdout.write(f"Reminded facilitators of waiting requests: {nudged} messages.")
        expired = requests_expire()
        self.stdout.write(f"Expired {expired} join requests.")
