"""accounts' sections of "Download my data": profile, preferences, credentials, messages.

Registered from AccountsConfig.ready() like every app's (accounts.personal_data),
so they come first. Facts about credentials, never a credential: no password
hash, session key, token, TOTP key, recovery code or phone code, hashed or not.
The message log lives in `notifications`, below accounts, so accounts exports it.

Each section costs a fixed number of queries, whatever the member's history.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from django.utils import timezone

from accounts.models import (
    CHANNELS,
    MESSAGE_KINDS,
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
from notifications.kinds import find as find_kind
from notifications.kinds import placeholder
from notifications.models import Notification, SmsOptOut

Json = dict[str, Any]

# Where a stored message has a placeholder for a value minted at delivery (a
# link that proves a mailbox, a one-time code), the export says what stood
# there: the value itself was never kept.
_PLACEHOLDER = re.compile(re.escape(placeholder("NAME")).replace("NAME", r"(\w+)"))
_MINTED_LABELS = {"url": "link", "code": "code"}
NOT_KEPT = "[{label} sent in the message itself, not kept]"


def iso(value: datetime | date | None) -> str | None:
    """A time or a date as ISO 8601 (times in UTC, as stored), or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def profile(user: User) -> Json:
    challenge = PhoneChallenge.objects.filter(user_id=user.pk).first()
    return {
        "email": user.email,
        "email_verified_at": iso(user.email_verified_at),
        "full_name": user.full_name,
        "display_name": user.display_name,
        "phone": user.phone,
        "phone_verified": bool(user.verified_phone),
        "phone_verified_at": iso(user.phone_verified_at),
        # A code texted to his number and not yet typed back: when, and how
        # many tries it took; never the code or its hash.
        "phone_code_waiting": None
        if challenge is None
        else {
            "phone": challenge.phone,
            "sent_at": iso(challenge.created_at),
            "expires_at": iso(challenge.expires_at),
            "wrong_tries": challenge.tries,
        },
        # His number replied STOP: no text goes to it until it replies START.
        "phone_texts_stopped": bool(user.phone)
        and SmsOptOut.objects.filter(phone=user.phone).exists(),
        "date_joined": iso(user.date_joined),
        "last_login": iso(user.last_login),
        "signed_up_on_the_site": user.from_sign_up,
        "page_asked_for_at_sign_up": user.sign_up_next,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


def preferences(user: User) -> Json:
    return {
        "time_zone": user.time_zone,
        # Per kind of message, whether he wants it by email and by text.
        "messages": {
            kind: {channel: getattr(user, f"{channel}_{kind}") for channel in CHANNELS}
            for kind in MESSAGE_KINDS
        },
    }


def credentials(user: User) -> Json:
    credential = Credential.objects.filter(user_id=user.pk).only("updated_at").first()
    now = timezone.now()
    device = TOTPDevice.objects.filter(user_id=user.pk).only("confirmed_at", "created_at").first()
    return {
        "password_set": user.has_usable_password(),
        "password_changed_at": iso(credential.updated_at if credential else None),
        "credentials_changed_at": iso(user.credentials_changed_at),
        # Which outside accounts sign him in: the provider, the account's
        # subject id and the address it had when linked (shown on his settings
        # page); we hold no token from the provider.
        "linked_identities": [
            {
                "provider": "google",
                "subject": identity.sub,
                "email": identity.email,
                "linked_at": iso(identity.linked_at),
            }
            for identity in GoogleIdentity.objects.filter(user_id=user.pk)
        ],
        "active_sessions": [
            {"expires_at": iso(expire)}
            for expire in Session.objects.filter(user_id=user.pk, expire_date__gt=now)
            .order_by("expire_date")
            .values_list("expire_date", flat=True)
        ],
        "revoked_api_tokens": RevokedToken.objects.filter(user_id=user.pk).count(),
        "two_factor": {
            "on": device is not None and device.confirmed_at is not None,
            "turned_on_at": iso(device.confirmed_at if device else None),
            "recovery_codes_left": RecoveryCode.objects.filter(
                user_id=user.pk, used_at__isnull=True
            ).count(),
        },
    }


def _shown(text: str) -> str | None:
    """A retained subject or body, with minted values' places said in words."""
    if not text:
        return None  # emptied by purge_notifications
    return _PLACEHOLDER.sub(
        lambda match: NOT_KEPT.format(label=_MINTED_LABELS.get(match[1], match[1])), text
    )


def messages(user: User) -> list[Json]:
    """Every message queued for him: kind, channel, times, status, and while kept the text."""
    rows = (
        Notification.objects.filter(user_id=user.pk)
        .order_by("created_at", "pk")
        .values_list(
            "kind", "channel", "status", "created_at", "sent_at", "subject", "body", "to_email"
        )
    )
    exported = []
    for kind, channel, status, created_at, sent_at, subject, body, to_email in rows:
        declared = find_kind(kind)
        exported.append(
            {
                "kind": kind,
                "about": declared.description if declared else "",
                "channel": channel,
                # Set when it went to an address other than his own (an email change).
                "to": to_email or None,
                "status": status,
                "queued_at": iso(created_at),
                "sent_at": iso(sent_at),
                "subject": _shown(subject),
                "body": _shown(body),
            }
        )
    return exported


def email_change(user: User) -> Json | None:
    """His request for a new address, while it waits for its link."""
    change = EmailChange.objects.filter(user_id=user.pk).first()
    if change is None:
        return None
    return {"new_email": change.new_email, "requested_at": iso(change.requested_at)}


SECTIONS = {
    "profile": profile,
    "preferences": preferences,
    "credentials": credentials,
    "email_change": email_change,
    "messages": messages,
}
