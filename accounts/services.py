"""Every write about a member's account, across both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_encode

from accounts import personal_data, throttle, zones
from accounts.models import (
    Credential,
    EmailChange,
    GoogleIdentity,
    PhoneChallenge,
    RecoveryCode,
    RevokedToken,
    Session,
    TOTPDevice,
    User,
)
from accounts.signals import email_first_proven
from accounts.tokens import INVITATION_DAYS, invitation_token, password_reset_token
from mensc.routers import CREDS_DB
from notifications.services import notify

VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = 60 * 60 * 24 * 3

VERIFY_INVALID = "This verification link is not valid. Ask for a new one below."
VERIFY_EXPIRED = "This verification link has expired. Ask for a new one below."
VERIFY_DONE = "Thank you: your email address is verified."
VERIFY_ALREADY = "Your email address was already verified."
VERIFY_NEEDS_PASSWORD = "That is not the password of this account."
NOT_VERIFIED_FOR_GOOGLE = (
    "Verify your email address before linking Google: open the link we emailed you."
)

# The owner of a taken address hears of a sign-up attempt at most once a day.
SIGN_UP_NOTICE = throttle.Limit("sign-up-attempt-notice", 1, 24 * 60 * 60)
NEXT_MAX_LENGTH = 500

GOOGLE_EMAIL_TAKEN = (
    "An account with this email address already exists. Sign in with your password (or reset "
    "it), then link Google from your settings."
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


def verification_user(token: str) -> User:
    """The member a verification link is for (or AccountError); reads only."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise AccountError(VERIFY_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise AccountError(VERIFY_INVALID) from exc
    if not isinstance(data, dict):
        raise AccountError(VERIFY_INVALID)
    user = User.objects.filter(pk=data.get("u"), email=data.get("e"), is_active=True).first()
    if user is None:
        raise AccountError(VERIFY_INVALID)
    return user


def local_next(target: str | None) -> str:
    """`target` if it is a path on this site (and not too long to keep), else ""."""
    if (
        isinstance(target, str)
        and target.startswith("/")
        and len(target) <= NEXT_MAX_LENGTH
        and url_has_allowed_host_and_scheme(target, allowed_hosts=None)
    ):
        return target
    return ""


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


def invitation_url(user: User) -> str:
    """A fresh link to set a first password: minted when the email is delivered, never stored."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_token.make_token(user)
    return settings.SITE_URL + reverse("accounts:invitation", args=[uid, token])


def invitation_send(*, user: User) -> None:
    """Email a man whose account staff made a link to set his password.

    Setting it proves his mailbox, so it also verifies his address
    (password_reset_complete). Each invitation is its own message.
    """
    notify(
        user=user,
        kind="account_invitation",
        subject_key=f"invitation:{uuid4().hex}",
        context={"days": INVITATION_DAYS},
    )


def password_reset_request(*, email: str) -> int:
    """Send a reset link to each active account with `email`; how many were sent.

    Runs in the background (accounts.tasks), so the page that asked does the
    same work whether or not the address has an account. A member who signed
    up with Google has no usable password, and a reset link is how he sets
    one: owning the mailbox is the proof either way (Django skips him).
    """
    # The link goes to the address the account has, whichever spelling was typed.
    users = list(User._default_manager.with_email(email).filter(is_active=True))
    for user in users:
        password_reset_send(user=user)
    return len(users)


def user_sign_up(
    *, email: str, full_name: str, password: str, next_url: str = "", time_zone: str = "UTC"
) -> None:
    """Sign an address up, the same way whether or not it already has an account.

    A new address gets an unverified account whose password signs in once the
    address is verified, and the verification link; `next_url` (a local URL)
    is where that link brings him back to. An address whose canonical form
    has an account gets no second account and changes nothing about the
    first: its owner is told (at most once a day). Either way the password is
    hashed and the caller answers the same.
    """
    user = User(
        email=User.objects.normalize_email(email),
        full_name=full_name,
        from_sign_up=True,
        sign_up_next=local_next(next_url),
        time_zone=zones.valid_or_none(time_zone) or zones.FALLBACK,
    )
    user.set_password(password)  # hashed on both paths: the time tells nothing
    owner = User.objects.with_email(email).first()
    if owner is None:
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            # The same new address signed up a moment earlier: the key is unique.
            owner = User.objects.with_email(email).first()
        else:
            verification_send(user=user)
            return
    if owner is not None:
        sign_up_attempt_notify(owner=owner)


def sign_up_attempt_notify(*, owner: User) -> None:
    """Tell an address's owner that someone tried to sign up with it (once a day at most)."""
    if throttle.hit(SIGN_UP_NOTICE, str(owner.pk)).allowed:
        today = timezone.now().date().isoformat()
        notify(user=owner, kind="sign_up_attempt", subject_key=f"sign-up-attempt:{today}")


def email_verify(*, user: User) -> str:
    """Verify the member's address (he followed its link and proved he is him).

    Returns what to tell him; the first proof revokes what came before it.
    """
    if not email_prove(user=user):
        return VERIFY_ALREADY
    return VERIFY_DONE


def email_prove(*, user: User) -> bool:
    """Record that the member proved his mailbox (verification link, completed reset).

    The first proof ends whatever anyone set up on the account before it:
    every session and API token (the credential stamp moves), the linked
    Google account, and what other apps registered (calendar feeds) through
    the `email_first_proven` signal. Someone who signed up with another man's
    address keeps nothing once the owner proves it. True if it was the first.
    """
    with transaction.atomic(), transaction.atomic(using=CREDS_DB):
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_verified:
            return False
        now = timezone.now()
        locked.email_verified_at = now
        locked.credentials_changed_at = max(
            now, locked.credentials_changed_at + timedelta(microseconds=1)
        )
        locked.sign_up_next = ""  # the way back is used (or lost) with the first proof
        locked.save(update_fields=["email_verified_at", "credentials_changed_at", "sign_up_next"])
        GoogleIdentity.objects.filter(user_id=user.pk).delete()
        email_first_proven.send(sender=User, user=locked)
    sessions_revoke(user_id=user.pk)
    user.email_verified_at = locked.email_verified_at
    user.credentials_changed_at = locked.credentials_changed_at
    user.sign_up_next = ""
    return True


def password_reset_complete(*, user: User, password: str) -> None:
    """Set the password chosen through a reset link; the link proved the mailbox."""
    password_set(user=user, password=password)
    email_prove(user=user)


# --- Settings and passwords ---------------------------------------------------------------

# What the member edits on his settings page: nothing else of his row.
SETTINGS_FIELDS = (
    "full_name",
    "display_name",
    "phone",
    "time_zone",
    "email_reminders",
    "sms_reminders",
    "email_updates",
    "sms_updates",
    "email_broadcasts",
    "sms_broadcasts",
)


@transaction.atomic
def user_settings_update(*, user: User, **changes: Any) -> User:
    """Save the member's own settings: the columns named, and only those.

    Other processes write the same row meanwhile (a password change moves the
    credential stamp, a phone proof sets phone_verified_at): a settings form
    read before them must not write their columns back as it read them. A
    changed number drops its proof (User.save adds phone_verified_at).
    """
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not a setting: {sorted(unknown)}")
    if not changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    user.save(update_fields=list(changes))
    return user


def password_set(*, user: User, password: str | None) -> None:
    """Give the member a new password (None: none that works), and nothing else.

    The stamp moves (User.save), which signs out every session and voids
    reset links and API tokens; the caller keeps the current session with
    update_session_auth_hash. Only the stamp is written to his row, so a
    password change never writes back what it read of the rest of it.
    """
    user.set_password(password)
    user.save(update_fields=["credentials_changed_at"])


# --- Email change ----------------------------------------------------------------------------

EMAIL_CHANGE_SALT = "accounts.email-change"
EMAIL_CHANGE_MAX_AGE = timedelta(hours=24)

EMAIL_CHANGE_SAME = "That is already your address."
EMAIL_CHANGE_SENT = (
    "We sent a link to {email}. Open it within 24 hours, signed in to this account, to confirm "
    "your new address. Until then your address stays {current}."
)
EMAIL_CHANGE_INVALID = (
    "This link does not work: it was used already, a newer request replaced it, or your "
    "password changed since. Ask again from your settings."
)
EMAIL_CHANGE_EXPIRED = "This link has expired. Ask again from your settings."
EMAIL_CHANGE_TAKEN = "Another account has this address now, so yours was not changed."
EMAIL_CHANGE_OTHER_ACCOUNT = (
    "This link is for another account: sign out, open the link again and sign in as the "
    "account that asked for it."
)
EMAIL_CHANGE_DONE = (
    "Your email address is now {email}, and it is verified. Your other sessions are signed out."
)
EMAIL_CHANGE_CANCELLED = "The change is cancelled: your address stays {email}."

# The owner of a taken address hears of an attempt to move another account to it once a day.
EMAIL_TAKEN_NOTICE = throttle.Limit("email-change-taken-notice", 1, 24 * 60 * 60)


def pending_email_change(*, user: User) -> EmailChange | None:
    """The member's request for a new address, while its link still works."""
    return EmailChange.objects.filter(
        user_id=user.pk, requested_at__gt=timezone.now() - EMAIL_CHANGE_MAX_AGE
    ).first()


def _address_digest(address: str) -> str:
    return salted_hmac("accounts.email-change.address", address, algorithm="sha256").hexdigest()[
        :20
    ]


def _email_change_token(change_id: str, address: str) -> str:
    # Names the request (which holds the address) and the address itself.
    return signing.dumps({"c": change_id, "a": _address_digest(address)}, salt=EMAIL_CHANGE_SALT)


def email_change_token(change: EmailChange) -> str:
    return _email_change_token(str(change.pk), change.new_email)


def email_change_url(row: Any) -> str:
    """The link in the email to the new address: minted at delivery, never stored.

    `row` is the queued message: its subject key names the request, and it
    goes to the address the request is for.
    """
    change_id = row.subject_key.removeprefix("email-change:")
    token = _email_change_token(change_id, row.to_email)
    return settings.SITE_URL + reverse("accounts:email_change_confirm", args=[token])


def email_change_request(*, user: User, new_email: str) -> EmailChange:
    """Ask to move the member's account to `new_email`; the link to confirm goes there.

    The member is told the same whether or not the address has an account
    (sign-up tells nobody who has one either): a free address gets the link,
    a taken one (in any spelling of it) gets none and its owner is told, at
    most once a day. Each request replaces the one before, whose link stops
    working. Nothing about the account changes until the link is opened.
    """
    new_email = User.objects.normalize_email(new_email.strip())
    if new_email == user.email:
        raise AccountError(EMAIL_CHANGE_SAME)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        EmailChange.objects.filter(user=locked).delete()
        change = EmailChange.objects.create(
            user=locked, new_email=new_email, credentials_changed_at=locked.credentials_changed_at
        )
        owner = User.objects.with_email(new_email).exclude(pk=locked.pk).first()
        if owner is None:
            notify(
                user=locked,
                kind="email_change",
                subject_key=f"email-change:{change.pk}",
                context={"new_email": new_email},
                to_email=new_email,
            )
        else:
            email_taken_notify(owner=owner)
    return change


def email_taken_notify(*, owner: User) -> None:
    """Tell an address's owner that someone asked to move another account to it (daily at most)."""
    if throttle.hit(EMAIL_TAKEN_NOTICE, str(owner.pk)).allowed:
        today = timezone.now().date().isoformat()
        notify(user=owner, kind="email_change_attempt", subject_key=f"email-change-attempt:{today}")


def email_change_cancel(*, user: User) -> bool:
    """Withdraw the member's pending request (its link stops working); False if none."""
    deleted, _ = EmailChange.objects.filter(user_id=user.pk).delete()
    return bool(deleted)


def email_change_for_token(token: str) -> EmailChange:
    """The request a confirmation link is for, while it may be confirmed (else AccountError).

    Reads only. The link works for EMAIL_CHANGE_MAX_AGE, for the address it
    was sent to, until a newer request or any credential change.
    """
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise AccountError(EMAIL_CHANGE_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise AccountError(EMAIL_CHANGE_INVALID) from exc
    try:
        change_id = UUID(str(data["c"]))
    except (TypeError, KeyError, ValueError):
        raise AccountError(EMAIL_CHANGE_INVALID) from None
    change = EmailChange.objects.select_related("user").filter(pk=change_id).first()
    if change is None or not constant_time_compare(
        str(data.get("a")), _address_digest(change.new_email)
    ):
        raise AccountError(EMAIL_CHANGE_INVALID)
    _check_email_change(change, change.user)
    return change


def _check_email_change(change: EmailChange, user: User) -> None:
    if change.requested_at <= timezone.now() - EMAIL_CHANGE_MAX_AGE:
        raise AccountError(EMAIL_CHANGE_EXPIRED)
    if not user.is_active or change.credentials_changed_at != user.credentials_changed_at:
        raise AccountError(EMAIL_CHANGE_INVALID)


def email_change_confirm(*, change: EmailChange, keep_session: str | None = None) -> User:
    """Move the account to the address whose link was opened; returns the member as he is now.

    The link proved the new mailbox: the new address is verified. The
    credential stamp moves, so every other session, API token and emailed
    link (reset, verification, another change) stops working; sessions but
    `keep_session` are deleted. The old address is told. An address another
    account took meanwhile is refused: the key is unique, so of two accounts
    confirming one address at once, one wins.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=change.user_id)
        change = EmailChange.objects.select_for_update().filter(pk=change.pk, user=user).first()
        if change is None:
            raise AccountError(EMAIL_CHANGE_INVALID)
        _check_email_change(change, user)
        old_email, now = user.email, timezone.now()
        user.email = change.new_email
        user.email_verified_at = now
        user.credentials_changed_at = max(
            now, user.credentials_changed_at + timedelta(microseconds=1)
        )
        if User.objects.with_email(user.email).exclude(pk=user.pk).exists():
            raise AccountError(EMAIL_CHANGE_TAKEN)
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified_at", "credentials_changed_at"])
        except IntegrityError:  # another account took it a moment earlier
            raise AccountError(EMAIL_CHANGE_TAKEN) from None
        notify(
            user=user,
            kind="email_changed",
            subject_key=f"email-changed:{change.pk}",
            context={"new_email": masked_email(user.email), "when": now},
            to_email=old_email,
        )
        change.delete()
    sessions_revoke(user_id=user.pk, keep=keep_session)
    return user


def masked_email(address: str) -> str:
    """`n…@example.com`: enough for its owner to know it, not enough to write to it."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}"


# --- Sessions and tokens ----------------------------------------------------------------


def sessions_revoke(*, user_id: int, keep: str | None = None) -> int:
    """End every session of a user (but `keep`): sessions rest only in `creds`."""
    deleted, _ = Session.objects.filter(user_id=user_id).exclude(session_key=keep).delete()
    return deleted


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
    if User.objects.with_email(email).exists():
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
    """Link a Google account to the signed-in member (once his address is verified)."""
    if not user.is_verified:
        raise AccountError(NOT_VERIFIED_FOR_GOOGLE)
    existing = GoogleIdentity.objects.filter(sub=sub).first()
    if existing is not None and existing.user_id != user.pk:
        raise AccountError(GOOGLE_ALREADY_LINKED)
    try:
        with transaction.atomic(using=CREDS_DB):
            GoogleIdentity.objects.update_or_create(
                user_id=user.pk, defaults={"sub": sub, "email": email, "linked_at": timezone.now()}
            )
    except IntegrityError:  # another account linked this Google account a moment earlier
        raise AccountError(GOOGLE_ALREADY_LINKED) from None


def google_unlink(*, user: User) -> None:
    """Unlink Google; only for a member who can still sign in with a password."""
    if not user.has_usable_password():
        raise AccountError(GOOGLE_UNLINK_NEEDS_PASSWORD)
    deleted, _ = GoogleIdentity.objects.filter(user_id=user.pk).delete()
    if not deleted:
        raise AccountError(GOOGLE_NOT_LINKED)
    user.credentials_changed()


# --- Export and deletion -------------------------------------------------------------


# Version 2: every app's data; preferences and linked identities in sections of
# their own; times in UTC.
EXPORT_SCHEMA_VERSION = 2


def user_export(*, user: User) -> dict[str, Any]:
    """Everything we hold about the member, from both databases, minus secrets.

    Each app's sections, accounts' first (accounts.personal_data,
    accounts.exports), each in a fixed number of queries.
    """
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "exported_at": timezone.now().isoformat(),
        **{name: export(user) for name, export in personal_data.exporters().items()},
    }


def credentials_purge(*, user_id: int) -> None:
    """Delete every credential of a user who no longer exists."""
    with transaction.atomic(using=CREDS_DB):
        Credential.objects.filter(user_id=user_id).delete()
        GoogleIdentity.objects.filter(user_id=user_id).delete()
        RevokedToken.objects.filter(user_id=user_id).delete()
        PhoneChallenge.objects.filter(user_id=user_id).delete()
        TOTPDevice.objects.filter(user_id=user_id).delete()
        RecoveryCode.objects.filter(user_id=user_id).delete()
    sessions_revoke(user_id=user_id)
    # The admin log names the objects it touched: forget the deleted account's name.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user_id)
    ).update(object_repr=f"deleted account #{user_id}")


def _sign_up_candidates(*, joined_before: datetime) -> QuerySet[User]:
    # Made by the public sign-up (staff- and operator-made accounts are not),
    # never verified, never signed in, not staff, old enough.
    return User.objects.filter(
        from_sign_up=True,
        email_verified_at__isnull=True,
        last_login__isnull=True,
        is_staff=False,
        is_superuser=False,
        date_joined__lt=joined_before,
    )


def sign_ups_stale(*, joined_before: datetime) -> tuple[list[int], int]:
    """Ids of the stale sign-ups to purge, and how many others are kept.

    Stale: made by the public sign-up, never verified, never signed in, and
    older than `joined_before`. Kept among those: any that an app holds
    something for (a membership, a payment, a Stripe customer, a scholarship:
    accounts.personal_data `holds`).
    """
    ids = list(
        _sign_up_candidates(joined_before=joined_before).order_by("pk").values_list("pk", flat=True)
    )
    held: set[int] = set()
    for start in range(0, len(ids), 500):
        held |= personal_data.holding(ids[start : start + 500])
    return [pk for pk in ids if pk not in held], len(held)


def sign_up_purge(*, user_id: int, joined_before: datetime) -> bool:
    """Delete a stale sign-up if it still is one (checked again with its row locked).

    One that holds nothing has no Stripe customer, so no vendor is called
    inside this transaction. True if it was deleted.
    """
    with transaction.atomic():
        candidates = _sign_up_candidates(joined_before=joined_before)
        user = candidates.select_for_update().filter(pk=user_id).first()
        if user is None or personal_data.holding([user.pk]):
            return False
        user_delete(user=user)
    return True


def user_delete(*, user: User) -> None:
    """Delete the member's account and everything personal in both databases.

    Each app's check runs first, then each app's vendor step
    (accounts.personal_data): one that refuses or fails raises ErasureError
    and nothing is deleted. Then, in one transaction, with his row locked (so
    he joins nothing meanwhile), each app erases its rows and the user row
    goes (the post_delete handler calls credentials_purge).
    """
    steps = personal_data.erasers()
    for step in steps:
        if step.check is not None:
            step.check(user)
    for step in steps:
        if step.release is not None:
            step.release(user)
    with transaction.atomic():
        if not User.objects.select_for_update().filter(pk=user.pk).exists():
            return  # deleted a moment ago (a second click)
        for step in steps:
            if step.erase is not None:
                step.erase(user)
        user.delete()
