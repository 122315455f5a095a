"""Delete credentials nobody can use any more (run daily from cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import EmailChange, PhoneChallenge, RevokedToken, Session, User
from accounts.services import EMAIL_CHANGE_MAX_AGE


class Command(BaseCommand):
    help = (
        "Delete expired revoked-token rows, sessions and phone codes, and sign-ups never "
        "verified within UNVERIFIED_ACCOUNT_DAYS (default 14)."
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
        stale = User.objects.filter(
            email_verified_at__isnull=True,
            is_staff=False,
            date_joined__lt=now - timedelta(days=options["unverified_days"]),
        )
        accounts = 0
        # One by one, so each account's credentials in `creds` go with it.
        for user in stale.iterator():
            user.delete()
            accounts += 1
        self.stdout.write(
            f"Purged {tokens} expired revoked tokens, {sessions} expired sessions, "
            f"{accounts} unverified sign-ups."
        )
        self.stdout.write(f"Purged {codes} expired phone codes.")
        # A request for a new address whose link has expired: personal data kept for nothing.
        changes, _ = EmailChange.objects.filter(
            requested_at__lte=now - EMAIL_CHANGE_MAX_AGE
        ).delete()
        self.stdout.write(f"Purged {changes} expired email-change requests.")
