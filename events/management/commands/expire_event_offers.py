"""Cron (hourly): pass lapsed event seat offers on to the next man on the waitlist."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events.services import offers_expire


class Command(BaseCommand):
    help = (
        "Move lapsed event seat offers to the back of their waitlists and offer the seats on. "
        "Safe to run on several hosts at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = offers_expire()
        self.stdout.write(f"Expired {expired} event seat offers.")
