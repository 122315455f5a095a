"""Two-factor sign-in: an authenticator app (TOTP) and single-use recovery codes.

Every staff user passes it before any admin page; a member may turn it on.
Codes are computed and checked with django-otp's RFC 6238 implementation
(`django_otp.oath`); the devices are our own models, in `creds`, keyed by a
plain `user_id`, because django-otp's device models hold a foreign key to the
user, which cannot cross databases.

- A code works once: the device remembers the last accepted time step and
  only a later one is accepted (checked with the device row locked).
- Tries are counted per account (`accounts.throttle`, one atomic increment
  per try): at most ATTEMPTS.max in ATTEMPTS.window seconds, success resets.
- Recovery codes are random, shown once, stored as SHA-256 hashes and spent
  with one conditional UPDATE, so two uses at once cannot both succeed.
- Turning it on (or an operator's reset) is a credential change: it signs out
  every other session and voids API tokens made before.

The session records where its sign-in stands (SESSION_KEY): PENDING after a
password (or Google) sign-in of an account with two-factor on, PASSED once a
code was entered; accounts.middleware.TwoFactorMiddleware holds the gate.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from base64 import b32encode
from typing import Any
from urllib.parse import quote, urlencode
from uuid import uuid4

import segno
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP

from accounts import throttle
from accounts.models import RecoveryCode, TOTPDevice, User
from accounts.services import sessions_revoke
from mensc.routers import CREDS_DB
from notifications.services import notify

SESSION_KEY = "accounts.two_factor"
PENDING = "pending"
PASSED = "passed"

ISSUER = "Men's Circle"
STEP = 30
DIGITS = 6
# One step either way: a phone's clock a little off, or a code typed as it changed.
TOLERANCE = 1
KEY_BYTES = 20
RECOVERY_CODES = 10
# No 0/o, 1/i/l: read from paper and typed on a phone.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10  # ~49 bits
ATTEMPTS = throttle.Limit("two-factor-tries", 5, 15 * 60)

WRONG_CODE = "That code is not right. Check the time on your phone and try again."
CODE_USED = "That code was already used. Wait for the next one."
TOO_MANY = "Too many tries. Please wait {minutes} minutes and try again."
NOT_SET_UP = "Two-factor sign-in is not set up for this account."
ALREADY_ON = "Two-factor sign-in is already on."
START_FIRST = "Start the setup first."
CODE_REQUIRED = "Enter the code from your authenticator app, or a recovery code."


class TwoFactorError(Exception):
    """A code refused; `message` is shown as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooManyTries(TwoFactorError):
    """Over the account's limit: no code is checked until `retry_after` seconds pass."""

    def __init__(self, decision: throttle.Decision) -> None:
        super().__init__(TOO_MANY.format(minutes=decision.minutes))
        self.retry_after = decision.retry_after


# --- Reads --------------------------------------------------------------------------------


def device_of(user: User) -> TOTPDevice | None:
    """His confirmed authenticator, if he has one."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()


def is_on(user: User) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).exists()


def is_required(user: User) -> bool:
    """Staff must use it (before any admin page); members choose."""
    return user.is_staff or user.is_superuser


def pending_setup(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=True).first()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()


def base32_key(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed: base32, no padding."""
    return b32encode(bytes.fromhex(device.key)).decode().rstrip("=")


def otpauth_uri(user: User, device: TOTPDevice) -> str:
    """The `otpauth://` URI an authenticator app reads from the QR code."""
    label = quote(f"{ISSUER}:{user.email}")
    query = urlencode(
        {
            "secret": base32_key(device),
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(data: str) -> str:
    """`data` as a QR code: an inline <svg>, drawn here (no script, no third party)."""
    code = segno.make(data, error="m")
    # Dark on a white ground whatever the page's colour scheme: scanners need contrast.
    return code.svg_inline(
        scale=4, border=4, dark="#000", light="#fff", title="QR code for your authenticator app"
    )


# --- Session state ------------------------------------------------------------------------


def session_signed_in(session: Any, user: User) -> None:
    """After a password or Google sign-in: the code is still to come if he has two-factor on."""
    if is_on(user):
        session[SESSION_KEY] = PENDING
    else:
        session.pop(SESSION_KEY, None)


def session_passed(session: Any) -> None:
    session[SESSION_KEY] = PASSED


def session_state(session: Any) -> str | None:
    return session.get(SESSION_KEY)


# --- Codes --------------------------------------------------------------------------------


def _clean(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _is_totp(cleaned: str) -> bool:
    # ASCII digits only: "²" is a digit to str.isdigit() but not to int().
    return re.fullmatch(f"[0-9]{{{DIGITS}}}", cleaned) is not None


def _recovery_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{_clean(code)}".encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _totp(device: TOTPDevice) -> TOTP:
    return TOTP(bytes.fromhex(device.key), step=STEP, digits=DIGITS)


def _check_totp(device: TOTPDevice, code: str) -> None:
    """Accept `code` for a time step later than the last one accepted (device row locked)."""
    totp = _totp(device)
    if totp.verify(int(code), tolerance=TOLERANCE, min_t=device.last_t + 1):
        device.last_t = totp.t()
        device.save(update_fields=["last_t"])
        return
    if totp.verify(int(code), tolerance=TOLERANCE):
        raise TwoFactorError(CODE_USED)
    raise TwoFactorError(WRONG_CODE)


def _counted(user: User, *, alert: bool = True) -> None:
    """Count one try against the account's limit; refuse past it without checking."""
    decision = throttle.hit(ATTEMPTS, f"user:{user.pk}")
    if not decision.allowed:
        if alert and decision.count == ATTEMPTS.max + 1:
            # Whoever is trying has his password: tell him once per window.
            _tell(user, "failures")
        raise TooManyTries(decision)


def verify(*, user: User, code: str | None) -> str:
    """Check a code from his authenticator or one of his recovery codes.

    Returns "totp" or "recovery"; raises TwoFactorError (wrong, used, too many).
    """
    cleaned = _clean(code)
    if not cleaned:
        raise TwoFactorError(CODE_REQUIRED)
    _counted(user)
    if _is_totp(cleaned):
        with transaction.atomic(using=CREDS_DB):
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user_id=user.pk, confirmed_at__isnull=False)
                .first()
            )
            if device is None:
                raise TwoFactorError(NOT_SET_UP)
            _check_totp(device, cleaned)
        kind = "totp"
    else:
        spent = RecoveryCode.objects.filter(
            user_id=user.pk, code_hash=_recovery_hash(user.pk, cleaned), used_at__isnull=True
        ).update(used_at=timezone.now())
        if spent != 1:
            raise TwoFactorError(WRONG_CODE)
        kind = "recovery"
    throttle.clear(ATTEMPTS, f"user:{user.pk}")
    return kind


# --- Writes -------------------------------------------------------------------------------


def setup_start(*, user: User) -> TOTPDevice:
    """A new key for him to scan (replacing an unfinished setup); not on until confirmed."""
    if is_on(user):
        raise TwoFactorError(ALREADY_ON)
    device, _ = TOTPDevice.objects.update_or_create(
        user_id=user.pk,
        defaults={
            "key": secrets.token_hex(KEY_BYTES),
            "confirmed_at": None,
            "last_t": -1,
            "created_at": timezone.now(),
        },
    )
    return device


def recovery_codes_make(*, user: User) -> list[str]:
    """Ten new recovery codes, replacing any old ones. Only their hashes are kept."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction.atomic(using=CREDS_DB):
        RecoveryCode.objects.filter(user_id=user.pk).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user_id=user.pk, code_hash=_recovery_hash(user.pk, code)) for code in codes
        )
    return codes


def recovery_codes_renew(*, user: User, code: str | None) -> list[str]:
    """New recovery codes (the old ones stop working), proven with a current code."""
    if not is_on(user):
        raise TwoFactorError(NOT_SET_UP)
    verify(user=user, code=code)
    return recovery_codes_make(user=user)


def setup_confirm(*, user: User, code: str | None) -> list[str]:
    """Turn two-factor on with a first correct code; returns his recovery codes (shown once).

    Signs out his other sessions and voids his API tokens (a credential change).
    """
    cleaned = _clean(code)
    if not _is_totp(cleaned):
        raise TwoFactorError(WRONG_CODE if cleaned else CODE_REQUIRED)
    _counted(user, alert=False)  # a man fumbling his own first setup is no intruder
    with transaction.atomic(using=CREDS_DB):
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user_id=user.pk, confirmed_at__isnull=True)
            .first()
        )
        if device is None:
            raise TwoFactorError(ALREADY_ON if is_on(user) else START_FIRST)
        _check_totp(device, cleaned)
        device.confirmed_at = timezone.now()
        device.save(update_fields=["confirmed_at"])
        codes = recovery_codes_make(user=user)
    throttle.clear(ATTEMPTS, f"user:{user.pk}")
    user.credentials_changed()
    _tell(user, "on")
    return codes


def disable(*, user: User, code: str | None) -> None:
    """Turn two-factor off, proven with a current code or a recovery code."""
    if not is_on(user):
        raise TwoFactorError(NOT_SET_UP)
    verify(user=user, code=code)
    _remove(user)
    _tell(user, "off")


def reset(*, user: User) -> tuple[int, int]:
    """For operators (`manage.py mfa_reset`): remove his authenticator and recovery codes.

    Signs him out everywhere; he sets two-factor up again at his next sign-in
    (staff must). Returns (devices removed, sessions ended).
    """
    removed = _remove(user)
    user.credentials_changed()
    ended = sessions_revoke(user_id=user.pk)
    _tell(user, "reset")
    return removed, ended


def _remove(user: User) -> int:
    with transaction.atomic(using=CREDS_DB):
        removed, _ = TOTPDevice.objects.filter(user_id=user.pk).delete()
        RecoveryCode.objects.filter(user_id=user.pk).delete()
    return removed


def _tell(user: User, change: str) -> None:
    """Email him when two-factor changes or keeps failing: if it was not him, he knows."""
    notify(
        user=user,
        kind="two_factor_notice",
        subject_key=f"two-factor:{uuid4().hex}",
        context={"change": change, "when": timezone.now()},
    )
