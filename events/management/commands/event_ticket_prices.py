"""Make the Stripe Price of every ticket tier that has none (optional: paying makes it too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events import payments


class Command(BaseCommand):
    help = (
        "Create a one-time Stripe Price for every ticket tier of an event still to come "
        "that has none. A tier without a price gets one when the first man pays for it anyway."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        made, failed = payments.tier_prices_ensure()
        self.stdout.write(f"{made} ticket prices made in Stripe, {failed} failed.")
