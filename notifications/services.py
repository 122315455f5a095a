"""Queue outbound messages in the notification log; opt numbers out of texts.

`notify()` writes a row per channel in the caller's transaction and asks a
background task to deliver it once that transaction commits, so a page never
waits on a vendor (delivery lives in notifications.delivery).

What is queued is rendered at once, except the kind's minted values: the row
holds a placeholder for each, and delivery mints a fresh one. So a reset or
verification link never rests in the main database, queued or sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from notifications import kinds
from notifications.models import Notification, SmsOptOut
from notifications.tasks import deliver_notification


def opted_out_numbers(numbers: Iterable[str]) -> set[str]:
    return set(SmsOptOut.objects.filter(phone__in=set(numbers)).values_list("phone", flat=True))


def may_send(user: Any, kind: str, channel: str, *, opted_out: set[str] | None = None) -> bool:
    """Whether `user` may get a `kind` message on `channel` at all."""
    declared = kinds.get(kind)
    if channel not in declared.channels or not user.is_active:
        return False
    if channel == Notification.Channel.SMS:
        number = declared.sms_number(user)
        if opted_out is None:
            opted_out = opted_out_numbers([number])
        if not number or number in opted_out:
            return False
    if declared.preference is None:
        return True  # an account message, whatever the settings
    return user.is_verified and user.wants(declared.preference, channel)


def render(kind: kinds.MessageKind, channel: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, body, html) from templates/emails/<template>_* or templates/sms/<template>.txt.

    Minted values render as their placeholders.
    """
    context = {
        "site_url": settings.SITE_URL,
        **context,
        **{name: kinds.placeholder(name) for name in kind.minted},
    }
    if channel == Notification.Channel.SMS:
        return "", render_to_string(f"sms/{kind.template}.txt", context).strip(), ""
    subject = " ".join(render_to_string(f"emails/{kind.template}_subject.txt", context).split())
    body = render_to_string(f"emails/{kind.template}_body.txt", context)
    try:
        html = render_to_string(f"emails/{kind.template}_body.html", context)
    except TemplateDoesNotExist:  # the HTML part is optional
        html = ""
    return subject, body, html


def build(*, user: Any, kind: str, subject_key: str, channel: str, context: dict) -> Notification:
    """An unsaved row (for callers that queue in bulk, like reminders)."""
    declared = kinds.get(kind)
    subject, body, html = render(declared, channel, {"user": user, **context})
    return Notification(
        user=user,
        channel=channel,
        kind=kind,
        subject_key=subject_key,
        subject=subject[:200],
        body=body,
        html_body=html,
        at_most_once=channel == Notification.Channel.SMS or declared.at_most_once,
    )


def notify(
    *,
    user: Any,
    kind: str,
    subject_key: str,
    context: dict[str, Any] | None = None,
    channels: Iterable[str] | None = None,
    to_email: str = "",
) -> list[Notification]:
    """Queue a message to one member on each channel he accepts; deliver after commit.

    `channels` defaults to every channel the kind may use. The same (user,
    channel, kind, subject_key) is queued once, ever. `to_email` sends an
    email to that address rather than to the member's address at delivery.
    """
    declared = kinds.get(kind)
    channels = declared.channels if channels is None else tuple(channels)
    if not set(channels) <= set(declared.channels):
        raise ValueError(f"{kind} goes only by {declared.channels}, not {channels}")
    if to_email and set(channels) != {Notification.Channel.EMAIL}:
        raise ValueError("to_email is an address: it goes with the email channel only")
    queued = []
    for channel in channels:
        if not may_send(user, kind, channel):
            continue
        row = build(
            user=user, kind=kind, subject_key=subject_key, channel=channel, context=context or {}
        )
        with transaction.atomic():
            row, created = Notification.objects.get_or_create(
                user=user,
                channel=channel,
                kind=kind,
                subject_key=subject_key,
                defaults={
                    "to_email": to_email,
                    **{
                        f: getattr(row, f) for f in ("subject", "body", "html_body", "at_most_once")
                    },
                },
            )
        if created:
            queued.append(row)
    for row in queued:
        transaction.on_commit(lambda pk=row.pk: deliver_notification.enqueue(pk))
    return queued


def sms_opt_out(*, phone: str) -> None:
    """No text goes to `phone` until it opts back in (a STOP reply)."""
    SmsOptOut.objects.get_or_create(phone=phone)


def sms_opt_in(*, phone: str) -> None:
    SmsOptOut.objects.filter(phone=phone).delete()
