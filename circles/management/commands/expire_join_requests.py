"""Cron (every scheduler pass): nudge facilitators about requests waiting 3 days, and
stop a request unanswered for 14 days from holding its seat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from circles.services import ANSWER_DAYS, REQUEST_DAYS, requests_expire, requests_nudge


class Command(BaseCommand):
    help = (
        f"Remind each circle's facilitators, once, of join requests waiting more than "
        f"{ANSWER_DAYS} days; expire join requests no facilitator answered in {REQUEST_DAYS} "
        "days, tell each man, and offer the freed seats to the waitlist. Safe to run on "
        "several hosts at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        nudged = requests_nudge()
        self.stdout.write(f"Reminded facilitators of waiting requests: {nudged} messages.")
        expired = requests_expire()
        self.stdout.write(f"Expired {expired} join requests.")
