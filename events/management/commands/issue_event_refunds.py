"""Refund the paid registrations of cancelled events that are not refunded yet (cron: hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from events import payments


class Command(BaseCommand):
    help = (
        "Refund, through Stripe, every paid registration of a cancelled event not refunded "
        "yet (one Stripe refund each, however often it runs)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        refunded, failed = payments.refunds_issue()
        self.stdout.write(
            f"{refunded} registrations refunded, {failed} failed (tried again next run)."
        )
        if failed:
            # A non-zero exit, so the cron's monitoring sees money still owed.
            raise CommandError(f"{failed} refunds failed: see the log; the next run tries again.")
