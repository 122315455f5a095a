"""Cron (hourly): a join request unanswered for 14 days stops holding its seat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from circles.services import REQUEST_DAYS, requests_expire


class Command(BaseCommand):
    help = (
        f"Expire join requests no facilitator answered in {REQUEST_DAYS} days, tell each man, "
        "and offer the freed seats to the waitlist. Safe to run on several hosts at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = requests_expire()
        self.stdout.write(f"Expired {expired} join requests.")
