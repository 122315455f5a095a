"""Delete credentials nobody can use any more, and sign-ups nobody took up (daily, cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import services
from accounts.models import EmailChange, PhoneChallenge, RevokedToken, Session
from accounts.services import EMAIL_CHANGE_MAX_AGE


class Command(BaseCommand):
    help = (
        "Delete expired revoked-token rows, sessions and phone codes, and public sign-ups "
        "never verified nor signed in within UNVERIFIED_ACCOUNT_DAYS (default 14) that hold "
        "nothing (no membership, payment, Stripe customer or scholarship)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--unverified-days",
            type=int,
            default=settings.UNVERIFIED_ACCOUNT_DAYS,
            help="Age in days after which an unverified sign-up is deleted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        tokens, _ = RevokedToken.objects.filter(expires_at__lt=now).delete()
        sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
        codes, _ = PhoneChallenge.objects.filter(expires_at__lt=now).delete()
        joined_before = now - timedelta(days=options["unverified_days"])
        stale, kept = services.sign_ups_stale(joined_before=joined_before)
        # One by one, each through the account deletion (both databases, every app).
        accounts = sum(
            services.sign_up_purge(user_id=pk, joined_before=joined_before) for pk in stale
        )
        self.stdout.write(
            f"Purged {tokens} expired revoked tokens, {sessions} expired sessions, "
            f"{accounts} unverified sign-ups."
        )
        self.stdout.write(f"Purged {codes} expired phone codes.")
        self.stdout.write(f"Kept {kept} unverified sign-ups that hold something.")
        # A request for a new address whose link has expired: personal data kept for nothing.
        changes, _ = EmailChange.objects.filter(
            requested_at__lte=now - EMAIL_CHANGE_MAX_AGE
        ).delete()
        self.stdout.write(f"Purged {changes} expired email-change requests.")
