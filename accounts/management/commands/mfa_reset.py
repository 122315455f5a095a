"""Remove a man's two-factor sign-in when he lost his phone and his recovery codes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import two_factor
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Remove the authenticator and recovery codes of the account with this email and "
        "sign it out everywhere. Staff set two-factor up again at their next sign-in; a "
        "member may turn it on again in his settings. He is told by email."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email", help="The account's email address (its sign-in name).")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        try:
            user = User.objects.get_by_natural_key(email)
        except User.DoesNotExist:
            raise CommandError(f"No account with the email address {email}.") from None
        was_on = two_factor.is_on(user)
        devices, sessions = two_factor.reset(user=user)
        state = "two-factor was on" if was_on else "two-factor was not on"
        again = "at his next sign-in" if two_factor.is_required(user) else "from his settings"
        self.stdout.write(
            f"Reset two-factor for {user.email} ({state}): {devices} authenticator removed, "
            f"{sessions} session(s) ended. He sets it up again {again}."
        )
