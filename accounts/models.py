"""People live in `default`; their secrets live in `creds`.

The user model has no password column. ``set_password`` keeps the new hash on
the instance and ``save`` writes it to a :class:`Credential` row in the
credentials database, exactly as Django's own model defers the write to
``save``. Anything that must change with a credential (session auth hash,
password-reset tokens) hashes the non-secret ``credentials_changed_at`` stamp,
so checking a session never needs the credentials database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password, is_password_usable, make_password
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from accounts import zones
from accounts.canonical import KEY_MAX_LENGTH, email_key, retired_key
from mensc.routers import CREDS_DB

_NOT_LOADED = object()

# What a member can get messages about, and on which channels (see settings page).
MESSAGE_KINDS = {
    "reminders": "Meeting reminders",
    "updates": "Circle updates (requests, seats, cancellations, agreements)",
    "broadcasts": "Messages from my facilitators",
}
CHANNELS = ("email", "sms")


def time_zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Real Region/City zones grouped by region, UTC first (accounts.zones)."""
    return zones.grouped_choices()


EMAIL_TAKEN = "An account with this email address already exists."


class UserQuerySet(models.QuerySet["User"]):
    def with_email(self, address: str) -> UserQuerySet:
        """The account (at most one) an address reaches, by its canonical key."""
        return self.filter(email_key=email_key(address))

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[User]:
        objs = list(objs)
        for user in objs:
            user.email_key = email_key(user.email)
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        # The key follows the address, even past save().
        if isinstance(kwargs.get("email"), str) and "email_key" not in kwargs:
            kwargs["email_key"] = email_key(kwargs["email"])
        return super().update(**kwargs)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # What every password sign-in asks (ModelBackend): the page, the
        # admin, the API. The key is unique, so this finds one or none.
        if not isinstance(username, str):
            raise self.model.DoesNotExist
        return self.get(email_key=email_key(username))

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    # No password column in the main database: see Credential.
    password = None

    email = models.EmailField("email address", unique=True)
    # The canonical form of `email` (accounts.canonical), kept by save().
    email_key = models.CharField(
        max_length=KEY_MAX_LENGTH,
        unique=True,
        editable=False,
        error_messages={"unique": EMAIL_TAKEN},
    )
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can sign in to the admin site (facilitators, treasurers)."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    from_sign_up = models.BooleanField(
        default=False,
        help_text="Made by the public sign-up: its password signs in once the address is verified.",
    )
    # A local URL the member asked for before signing up (e.g. a circle's
    # page); where the verification link brings him back to. Not a secret.
    sign_up_next = models.CharField(max_length=500, blank=True, editable=False)

    display_name = models.CharField(
        max_length=60, blank=True, help_text="How other members see you; your first name if empty."
    )
    phone = models.CharField(
        max_length=20, blank=True, db_index=True, help_text="E.164, e.g. +14155550123"
    )
    # When the member proved the number by a code texted to it. Texts go only
    # to a verified number, and a changed number is unverified (see save()).
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", choices=time_zone_choices)
    # Per kind of message and channel. SMS is opt-in: a text needs consent.
    email_reminders = models.BooleanField(default=True)
    email_updates = models.BooleanField(default=True)
    email_broadcasts = models.BooleanField(default=True)
    sms_reminders = models.BooleanField(default=False)
    sms_updates = models.BooleanField(default=False)
    sms_broadcasts = models.BooleanField(default=False)

    credentials_changed_at = models.DateTimeField(
        default=timezone.now,
        help_text="Changes with every credential change; signs sessions and reset links.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            # A verified number belongs to one account (the newer proof wins:
            # accounts.phones.phone_verify).
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(phone_verified_at__isnull=False),
                name="accounts_user_verified_phone_unique",
                violation_error_message="This mobile number is verified by another account.",
            ),
            models.CheckConstraint(
                condition=Q(phone_verified_at__isnull=True) | ~Q(phone=""),
                name="accounts_user_verified_phone_not_empty",
            ),
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_hash: str | None = None
        self._stored_hash: Any = _NOT_LOADED
        self._saved_phone = self.__dict__.get("phone"), self.__dict__.get("phone_verified_at")
        self._saved_email = self.__dict__.get("email"), self.__dict__.get("email_verified_at")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or (self.full_name.split() or [self.email])[0]

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def verified_phone(self) -> str:
        """The number texts may go to: his number once he proved it, else ""."""
        return self.phone if self.phone and self.phone_verified_at is not None else ""

    @property
    def may_sign_in_with_password(self) -> bool:
        """Whether a right password signs this account in.

        A password chosen at the public sign-up works only once the address is
        verified; until then a right password is refused exactly like a wrong
        one, so signing up and then signing in cannot tell whether an address
        already had an account. Accounts made by staff or an operator are
        trusted as made.
        """
        return self.is_active and (self.is_verified or not self.from_sign_up)

    def validate_unique(self, exclude: Any = None) -> None:
        # email_key is not editable, so a ModelForm would leave it out of its
        # unique checks and a look-alike address would fail only at the
        # database. Check it whenever the address is checked.
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().validate_unique(exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if not (exclude and "email" in exclude) and "email" not in errors and self.email:
            taken = User._default_manager.with_email(self.email).exclude(pk=self.pk)
            if taken.exists():
                errors["email"] = [ValidationError(EMAIL_TAKEN, code="unique")]
        if errors:
            raise ValidationError(errors)

    def wants(self, kind: str, channel: str) -> bool:
        """Whether this member accepts messages of `kind` on `channel`."""
        if kind not in MESSAGE_KINDS or channel not in CHANNELS:
            raise ValueError(f"unknown message kind or channel: {kind}, {channel}")
        if channel == "sms" and not self.verified_phone:
            return False
        return getattr(self, f"{channel}_{kind}")

    # --- Credentials ------------------------------------------------------------

    def set_password(self, raw_password: str | None) -> None:
        # Only in memory, like Django's: ModelBackend hashes a password on a
        # throwaway User() for timing, and that must never write a row.
        self._pending_hash = make_password(raw_password)
        self._password = raw_password

    def set_unusable_password(self) -> None:
        self._pending_hash = make_password(None)

    def _password_hash(self) -> str | None:
        if self._pending_hash is not None:
            return self._pending_hash
        if self.pk is None:
            return None
        if self._stored_hash is _NOT_LOADED:
            self._stored_hash = (
                Credential.objects.filter(user_id=self.pk)
                .values_list("password_hash", flat=True)
                .first()
            )
        return self._stored_hash

    def check_password(self, raw_password: str | None) -> bool:
        def upgrade(raw: str) -> None:
            # A hasher upgrade is not a credential change: sessions stay valid.
            new_hash = make_password(raw)
            Credential.objects.filter(user_id=self.pk).update(password_hash=new_hash)
            self._stored_hash = new_hash

        return check_password(raw_password, self._password_hash(), upgrade)

    async def acheck_password(self, raw_password: str | None) -> bool:
        return await sync_to_async(self.check_password)(raw_password)

    def has_usable_password(self) -> bool:
        return is_password_usable(self._password_hash())

    def _keep_email_key(self, kwargs: dict[str, Any]) -> None:
        key = email_key(self.email)
        # An account that gave its address up in a clash keeps its retired key
        # until its address is changed.
        if self.email_key != retired_key(self.pk, key):
            self.email_key = key
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_key"}

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._keep_email_key(kwargs)
        self._unverify_a_changed_email(kwargs)
        self._unverify_a_changed_phone(kwargs)
        pending = self._pending_hash
        if pending is None:
            super().save(*args, **kwargs)
            self._remember_saved()
            return
        now = timezone.now()
        # Strictly later than before, so the stamp always changes.
        self.credentials_changed_at = max(
            now, self.credentials_changed_at + timedelta(microseconds=1)
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "credentials_changed_at"}
        using = kwargs.get("using") or "default"
        with transaction.atomic(using=using), transaction.atomic(using=CREDS_DB):
            super().save(*args, **kwargs)
            Credential.objects.update_or_create(
                user_id=self.pk, defaults={"password_hash": pending}
            )
        self._pending_hash = None
        self._stored_hash = pending
        self._remember_saved()

    def _remember_saved(self) -> None:
        self._saved_phone = self.phone, self.phone_verified_at
        self._saved_email = self.email, self.email_verified_at

    def _unverify_a_changed_email(self, kwargs: dict[str, Any]) -> None:
        # A proof is for one address (any other spelling may be another
        # mailbox): saving another one (the admin, a shell) leaves the account
        # unverified, unless the same save sets the proof too (an email change
        # confirmed by its link: accounts.services.email_change_confirm).
        update_fields = kwargs.get("update_fields")
        if self._state.adding or (update_fields is not None and "email" not in update_fields):
            return
        if {"email", "email_verified_at"} & self.get_deferred_fields():
            return
        saved_email, saved_proof = self._saved_email
        if self.email != saved_email and self.email_verified_at == saved_proof:
            if self.email_verified_at is None:
                return
            self.email_verified_at = None
            if update_fields is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "email_verified_at"}

    def _unverify_a_changed_phone(self, kwargs: dict[str, Any]) -> None:
        # A proof is for one number: saving another one (settings, admin,
        # shell) drops it, unless the same save sets the proof too (the demo
        # seed, tests). A new account has nothing to drop.
        update_fields = kwargs.get("update_fields")
        if self._state.adding or (update_fields is not None and "phone" not in update_fields):
            return
        if "phone" in self.get_deferred_fields():
            return
        saved_phone, saved_proof = self._saved_phone
        if self.phone != saved_phone and self.phone_verified_at == saved_proof:
            self.phone_verified_at = None
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "phone_verified_at"}

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django hashes the password column here; we hash the stamp instead,
        # so a credential change logs out every other session.
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.pk}:{self.credentials_changed_at.isoformat()}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def credentials_fingerprint(self) -> str:
        """A short HMAC of the credential stamp, carried in API tokens."""
        return salted_hmac(
            "accounts.User.credentials_fingerprint",
            f"{self.pk}:{self.credentials_changed_at.isoformat()}",
            algorithm="sha256",
        ).hexdigest()[:32]

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._stored_hash = _NOT_LOADED
        self._saved_phone = self.__dict__.get("phone"), self.__dict__.get("phone_verified_at")
        self._saved_email = self.__dict__.get("email"), self.__dict__.get("email_verified_at")

    def credentials_changed(self) -> None:
        """Mark a credential change that is not a password (e.g. Google unlinked).

        Signs out every session and voids reset links and API tokens.
        """
        self.credentials_changed_at = max(
            timezone.now(), self.credentials_changed_at + timedelta(microseconds=1)
        )
        self.save(update_fields=["credentials_changed_at"])


class EmailChange(models.Model):
    """A member's request to move his account to another address, until its link is opened.

    One per member (a new request replaces it). The link that confirms it
    goes to the new address and is minted at delivery from this row's id
    (accounts.services): nothing here signs anyone in. The address is not a
    secret, only personal data; the row goes when the change is confirmed,
    cancelled or replaced, with the account, or once its link has expired
    (purge_expired_credentials).
    """

    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="email_change")
    new_email = models.EmailField()
    requested_at = models.DateTimeField(default=timezone.now)
    # The member's credential stamp when he asked: a password change (or any
    # other credential change) since voids the request.
    credentials_changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"email change of user {self.user_id}"


class Credential(models.Model):
    """A member's password hash, in the credentials database.

    Refers to its user by a plain indexed id: no foreign key crosses databases.
    """

    user_id = models.BigIntegerField(unique=True)
    password_hash = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"credential of user {self.user_id}"


class GoogleIdentity(models.Model):
    """A Google account linked to a user (OpenID `sub`), in the credentials database."""

    user_id = models.BigIntegerField(unique=True)
    sub = models.CharField(max_length=255, unique=True)
    email = models.EmailField()
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "Google identities"

    def __str__(self) -> str:
        return f"Google identity of user {self.user_id}"


class RevokedToken(models.Model):
    """A refresh token that may not be used again: only its id, never the token."""

    jti = models.CharField(max_length=64, unique=True)
    user_id = models.BigIntegerField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti


class PhoneChallenge(models.Model):
    """A code texted to a member's number, waiting to be typed back (in `creds`).

    One per member: asking again replaces it. The code itself is stored
    nowhere: it is derived from the challenge id, the number and SECRET_KEY
    (accounts.phones), so the text that carries it is minted at delivery; only
    a keyed hash of it rests here, for the check.
    """

    id = models.UUIDField(primary_key=True, default=uuid4, editable=False)
    user_id = models.BigIntegerField(unique=True)
    phone = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=64)
    tries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"phone code for user {self.user_id}"


class Session(AbstractBaseSession):
    """Django's session row plus the user it signs in, so sessions can be revoked."""

    user_id = models.BigIntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type:
        return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


class TOTPDevice(models.Model):
    """A member's authenticator app (TOTP, RFC 6238), in the credentials database.

    The key cannot be hashed: every code is computed from it. Unconfirmed
    until the member enters a first correct code; `last_t` is the last time
    step whose code was accepted, so a code works once.
    """

    user_id = models.BigIntegerField(unique=True)
    key = models.CharField(max_length=80, help_text="Hex-encoded secret key.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"authenticator of user {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored only as a hash, in the credentials database."""

    user_id = models.BigIntegerField(db_index=True)
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"recovery code of user {self.user_id}"
