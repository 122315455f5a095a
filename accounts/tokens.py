"""Password-reset tokens that die with the credential they were issued for."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator

from accounts.models import User


class CredentialStampTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.CredentialStampTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        # Django's generator hashes user.password, which we don't have. The
        # stamp changes with every password change, so a used or stale link
        # stops working; last_login makes a link single-use across sign-ins.
        login = (
            "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        )
        stamp = user.credentials_changed_at.isoformat()
        return f"{user.pk}{stamp}{login}{timestamp}{user.email}"


password_reset_token = CredentialStampTokenGenerator()
