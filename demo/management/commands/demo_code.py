"""The code an authenticator app with the demo key shows now (demo staff sign-in)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from accounts import two_factor
from demo.management.commands.seed_demo import DEMO_TOTP_KEY


class Command(BaseCommand):
    help = (
        "Print the current two-factor code for the demo staff accounts (seed_demo's key). "
        "Runs only with DEBUG on."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_code is for the demo: it runs only with DJANGO_DEBUG on.")
        totp = TOTP(bytes.fromhex(DEMO_TOTP_KEY), step=two_factor.STEP, digits=two_factor.DIGITS)
        left = two_factor.STEP - int(totp.time) % two_factor.STEP
        self.stdout.write(f"{totp.token():0{two_factor.DIGITS}d}")
        self.stderr.write(f"(good for {left} more seconds; each code signs in once)")
