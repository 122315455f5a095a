"""Password-reset and invitation tokens that die with the credential they were issued for."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int

from accounts.models import User

# An invitation waits longer than a reset link (PASSWORD_RESET_TIMEOUT, hours):
# the man did not ask for it and may read his mail days later.
INVITATION_DAYS = 7


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


class InvitationTokenGenerator(CredentialStampTokenGenerator):
    """The link of an invitation to set a password: single-use, INVITATION_DAYS long.

    Its own salt, so a reset token is no invitation token and the other way round.
    """

    key_salt = "accounts.tokens.InvitationTokenGenerator"
    max_age = INVITATION_DAYS * 24 * 60 * 60

    def check_token(self, user: User | None, token: str | None) -> bool:
        # Django's check, with this lifetime instead of PASSWORD_RESET_TIMEOUT.
        if not (user and token):
            return False
        try:
            made_at = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if self._num_seconds(self._now()) - made_at > self.max_age:
            return False
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, made_at, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )


password_reset_token = CredentialStampTokenGenerator()
invitation_token = InvitationTokenGenerator()
