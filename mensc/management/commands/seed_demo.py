"""Idempotent demo data for the embedded default (README's run command)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

# Published on purpose: seed_demo runs only with DEBUG on.
DEMO_PASSWORD = "circle-demo-2026"
DEMO_ADMIN = "admin@example.com"


class Command(BaseCommand):
    help = "Create demo accounts (idempotent). Refuses to run with DEBUG off unless --force."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with a published password; it runs only with "
                "DJANGO_DEBUG on (or --force)."
            )
        created = 0
        if not User.objects.filter(email__iexact=DEMO_ADMIN).exists():
            User.objects.create_superuser(DEMO_ADMIN, DEMO_PASSWORD, full_name="Demo Admin")
            created += 1
        self.stdout.write(f"Demo data ready ({created} accounts created).")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  {DEMO_ADMIN:<28} staff + superuser, /admin/")
