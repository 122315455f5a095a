"""Every write about a member's account, across both databases."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import (
    Credential,
    GoogleIdentity,
    RecoveryCode,
    RevokedToken,
    Session,
    TOTPDevice,
    User,
)
from accounts.tokens import password_reset_token
from mensc.routers import CREDS_DB
from notifications.services import notify

VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = 60 * 60 * 24 * 3

VERIFY_INVALID = "This verification link is not valid. Ask for a new one below."
VERIFY_EXPIRED = "This verification link has expired. Ask for a new one below."
VERIFY_DONE = "Thank you: your email address is verified."
VERIFY_ALREADY = "Your email address was already verified."

GOOGLE_EMAIL_TAKEN = (
    "An account with this email address already exists. Sign in with your password, then "
    "link Google from your settings."
)
GOOGLE_ALREADY_LINKED = "This Google account is already linked to another account."
GOOGLE_UNLINK_NEEDS_PASSWORD = "Set a password before unlinking Google, or you could not sign in."
GOOGLE_NOT_LINKED = "No Google account is linked."


class AccountError(Exception):
    """A request that cannot be done; `message` is shown to the member as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Sign-up and verification ---------------------------------------------------------


def verification_token(user: User) -> str:
    # Bound to the address, so a link stops working if the email changes.
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


def verification_url(user: User) -> str:
    """A fresh verification link: minted when the email is delivered, never stored."""
    return settings.SITE_URL + reverse("accounts:verify_email", args=[verification_token(user)])


def verification_send(*, user: User) -> None:
    """Email the member a link that verifies his address (each request is its own message)."""
    notify(user=user, kind="verify_email", subject_key=f"verify:{uuid4().hex}")


def password_reset_url(user: User) -> str:
    """A fresh password-reset link: minted when the email is delivered, never stored."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = password_reset_token.make_token(user)
    return settings.SITE_URL + reverse("accounts:password_reset_confirm", args=[uid, token])


def password_reset_send(*, user: User) -> None:
    """Email the member a link to choose a new password (each request is its own message)."""
    notify(user=user, kind="password_reset", subject_key=f"reset:{uuid4().hex}")


def user_sign_up(*, user: User) -> User:
    """Save a new member (password already set on the instance) and send the link."""
    user.save()
    verification_send(user=user)
    return user


def email_verify(*, token: str) -> tuple[User, str]:
    """Verify the address in `token`; return the member and what to tell him."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise AccountError(VERIFY_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise AccountError(VERIFY_INVALID) from exc
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise AccountError(VERIFY_INVALID)
    if user.is_verified:
        return user, VERIFY_ALREADY
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, VERIFY_DONE


# --- Sessions and tokens ----------------------------------------------------------------


def sessions_revoke(*, user_id: int, keep: str | None = None) -> int:
    """End every session of a user (but `keep`), in the database and its cache."""
    store_class = Session.get_session_store_class()
    keys = Session.objects.filter(user_id=user_id).exclude(session_key=keep)
    count = 0
    for key in keys.values_list("session_key", flat=True):
        store_class(key).delete()  # the cached_db store also drops its cached copy
        count += 1
    return count


def refresh_token_revoke(*, jti: str, user_id: int, expires_at: Any) -> bool:
    """Revoke a refresh token by id; False if it was already revoked."""
    try:
        with transaction.atomic(using=CREDS_DB):
            RevokedToken.objects.create(jti=jti, user_id=user_id, expires_at=expires_at)
    except IntegrityError:
        return False
    return True


# --- Google ----------------------------------------------------------------------------


def google_sign_in(*, sub: str, email: str, name: str) -> User:
    """The member a Google identity signs in, creating a verified account if new.

    An email that already has an account is never taken over silently: the
    owner links Google from his settings while signed in.
    """
    identity = GoogleIdentity.objects.filter(sub=sub).first()
    if identity is not None:
        user = User.objects.filter(pk=identity.user_id, is_active=True).first()
        if user is None:
            raise AccountError("This account is not active.")
        return user
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError(GOOGLE_EMAIL_TAKEN)
    try:
        with transaction.atomic(), transaction.atomic(using=CREDS_DB):
            user = User.objects.create_user(
                email, None, full_name=name, email_verified_at=timezone.now()
            )
            GoogleIdentity.objects.create(user_id=user.pk, sub=sub, email=email)
    except IntegrityError:
        # A second tab finished the same first sign-in a moment earlier.
        identity = GoogleIdentity.objects.filter(sub=sub).first()
        if identity is None:
            raise AccountError(GOOGLE_EMAIL_TAKEN) from None
        return User.objects.get(pk=identity.user_id)
    return user


def google_link(*, user: User, sub: str, email: str) -> None:
    """Link a Google account to the signed-in member."""
    existing = GoogleIdentity.objects.filter(sub=sub).first()
    if existing is not None and existing.user_id != user.pk:
        raise AccountError(GOOGLE_ALREADY_LINKED)
    GoogleIdentity.objects.update_or_create(
        user_id=user.pk, defaults={"sub": sub, "email": email, "linked_at": timezone.now()}
    )


def google_unlink(*, user: User) -> None:
    """Unlink Google; only for a member who can still sign in with a password."""
    if not user.has_usable_password():
        raise AccountError(GOOGLE_UNLINK_NEEDS_PASSWORD)
    deleted, _ = GoogleIdentity.objects.filter(user_id=user.pk).delete()
    if not deleted:
        raise AccountError(GOOGLE_NOT_LINKED)
    user.credentials_changed()


# --- Export and deletion -------------------------------------------------------------


PROFILE_FIELDS = [
    "email",
    "full_name",
    "display_name",
    "phone",
    "time_zone",
    "date_joined",
    "last_login",
    "email_verified_at",
    "email_reminders",
    "email_updates",
    "email_broadcasts",
    "sms_reminders",
    "sms_updates",
    "sms_broadcasts",
]


def user_export(*, user: User) -> dict[str, Any]:
    """Everything we hold about the member, from both databases, minus secrets."""
    credential = Credential.objects.filter(user_id=user.pk).first()
    google = GoogleIdentity.objects.filter(user_id=user.pk).first()
    sessions = Session.objects.filter(user_id=user.pk, expire_date__gt=timezone.now())
    return {
        "exported_at": timezone.now().isoformat(),
        "profile": {
            **{name: _jsonable(getattr(user, name)) for name in PROFILE_FIELDS},
            "is_staff": user.is_staff,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        },
        "credentials": {
            "password_set": user.has_usable_password(),
            "password_changed_at": _jsonable(credential.updated_at if credential else None),
            "google": None
            if google is None
            else {
                "sub": google.sub,
                "email": google.email,
                "linked_at": _jsonable(google.linked_at),
            },
            "active_sessions": [
                {"expires_at": _jsonable(expire)}
                for expire in sessions.values_list("expire_date", flat=True)
            ],
            "revoked_api_tokens": RevokedToken.objects.filter(user_id=user.pk).count(),
            "two_factor": _two_factor_export(user),
        },
    }


def _two_factor_export(user: User) -> dict[str, Any]:
    # When, and how many codes are left: never the key or a code.
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()
    return {
        "on": device is not None,
        "turned_on_at": _jsonable(device.confirmed_at if device else None),
        "recovery_codes_left": RecoveryCode.objects.filter(
            user_id=user.pk, used_at__isnull=True
        ).count(),
    }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def credentials_purge(*, user_id: int) -> None:
    """Delete every credential of a user who no longer exists."""
    with transaction.atomic(using=CREDS_DB):
        Credential.objects.filter(user_id=user_id).delete()
        GoogleIdentity.objects.filter(user_id=user_id).delete()
        RevokedToken.objects.filter(user_id=user_id).delete()
        TOTPDevice.objects.filter(user_id=user_id).delete()
        RecoveryCode.objects.filter(user_id=user_id).delete()
    sessions_revoke(user_id=user_id)
    # The admin log names the objects it touched: forget the deleted account's name.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user_id)
    ).update(object_repr=f"deleted account #{user_id}")


def user_delete(*, user: User) -> None:
    """Delete the member's account and everything personal in both databases."""
    user.delete()  # the post_delete handler calls credentials_purge
