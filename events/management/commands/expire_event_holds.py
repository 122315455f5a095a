"""Release the seats held for men who did not finish paying in time (cron: every 5 minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events import payments


class Command(BaseCommand):
    help = (
        "Close the Stripe Checkout of every seat held past its 30 minutes, cancel the "
        "registration and offer the seat to the waitlist. Safe to run from several hosts."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        released, later = payments.holds_expire()
        self.stdout.write(
            f"{released} held seats released, {later} left for their payment or a later run."
        )
