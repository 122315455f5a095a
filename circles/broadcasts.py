"""A facilitator's message to his circle ("broadcast"), by email and/or SMS.

One broadcast is one `subject_key` ("broadcast:<circle>:<uuid>"): every man
gets it at most once per channel (the notification log's unique key), and the
next broadcast is a new message. `notifications.services.notify` decides per man whether
he gets it on a channel (his preferences, verification, phone, SMS opt-out).

Rate limit: BROADCASTS_PER_WINDOW per circle per WINDOW, counted in the
notification log itself (distinct broadcast keys of the circle queued in the
window), so it holds across processes and hosts with no extra state. The
circle row is locked while counting and queuing, so two facilitators pressing
"Send" at once can't both take the last slot. A broadcast that reached nobody
(everyone opted out) left no row and does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from circles.models import Circle, Membership
from circles.selectors import public_name
from circles.services import CircleError
from notifications.models import Notification
from notifications.services import notify

KIND = "broadcast"
CHANNELS = (Notification.Channel.EMAIL, Notification.Channel.SMS)
MAX_TITLE = 120
MAX_TEXT = 1000
# Two SMS segments' worth; checked only when SMS is chosen.
MAX_SMS_TEXT = 320
BROADCASTS_PER_WINDOW = 3
WINDOW = timedelta(hours=24)

TOO_MANY = (
    f"This circle has already had {BROADCASTS_PER_WINDOW} messages in the last 24 hours. "
    "Nothing was sent: please try again later."
)
NOT_FACILITATOR = "Only a facilitator of this circle can message it."


def _key_prefix(circle: Circle) -> str:
    return f"{KIND}:{circle.pk}:"


def broadcasts_in_window(circle: Circle) -> int:
    """How many broadcasts the circle got in the last WINDOW."""
    # Every recipient has (or had) a membership of the circle: filtering on
    # those users lets PostgreSQL use the log's (user, channel, kind, key) index.
    return sent_in_window(
        kind=KIND,
        prefix=_key_prefix(circle),
        user_ids=Membership.objects.filter(circle=circle).values("user_id"),
    )


def sent_in_window(*, kind: str, prefix: str, user_ids: Any) -> int:
    """How many messages (distinct subject keys starting with `prefix`) went in WINDOW.

    `user_ids` (a values("user_id") queryset) names everyone who may have got
    one, so PostgreSQL uses the log's (user, channel, kind, key) index. Shared
    with events' message to an event's men: the same limit, counted the same way.
    """
    return (
        Notification.objects.filter(
            user_id__in=user_ids,
            kind=kind,
            subject_key__startswith=prefix,
            created_at__gte=timezone.now() - WINDOW,
        )
        .values("subject_key")
        .distinct()
        .count()
    )


def check_message(text: str, channels: Iterable[str]) -> list[str]:
    """The channels, once each, after asserting the input limits (the form's job first)."""
    channels = list(dict.fromkeys(channels))
    if not channels or not set(channels) <= set(CHANNELS):
        raise ValueError(f"channels must be some of {CHANNELS}, got {channels!r}")
    if not text.strip() or len(text) > MAX_TEXT:
        raise ValueError("text must be 1 to MAX_TEXT characters")
    if Notification.Channel.SMS in channels and len(text) > MAX_SMS_TEXT:
        raise ValueError("SMS text must be at most MAX_SMS_TEXT characters")
    return channels


def recipients(circle: Circle, *, sender: User) -> list[User]:
    """Active members (co-facilitators included), but not the man who writes."""
    memberships = (
        circle.memberships.active().exclude(user_id=sender.pk).select_related("user").order_by("pk")
    )
    return [m.user for m in memberships]


def broadcast_send(
    *,
    circle: Circle,
    sender: User,
    title: str,
    text: str,
    channels: Iterable[str],
    key: str | None = None,
) -> int:
    """Queue `text` to every active member of `circle` on each chosen channel he accepts.

    Returns the number of messages queued (one per man per channel); they are
    delivered after the transaction commits. Raises CircleError (TOO_MANY,
    NOT_FACILITATOR) and queues nothing when the message may not go out.
    Input limits (MAX_TEXT, MAX_SMS_TEXT) are the form's job; they are
    asserted here so no caller can skip them. `key` (the form's, 32 hex) makes
    a double-submitted form one broadcast: the second queues nothing.
    """
    channels = check_message(text, channels)
    with transaction.atomic():
        circle = Circle.objects.select_for_update().get(pk=circle.pk)
        if not (
            sender.is_superuser
            or Membership.objects.facilitating().filter(circle=circle, user=sender).exists()
        ):
            raise CircleError(NOT_FACILITATOR)
        subject_key = f"{_key_prefix(circle)}{key or uuid4().hex}"
        if Notification.objects.filter(kind=KIND, subject_key=subject_key).exists():
            return 0  # already sent: the form was submitted twice
        if broadcasts_in_window(circle) >= BROADCASTS_PER_WINDOW:
            raise CircleError(TOO_MANY)
        # The sender's public name only: never his email or phone.
        context = {"circle": circle, "title": title, "text": text, "sender": public_name(sender)}
        queued = 0
        for user in recipients(circle, sender=sender):
            queued += len(
                notify(
                    user=user,
                    kind=KIND,
                    subject_key=subject_key,
                    context=context,
                    channels=channels,
                )
            )
    return queued
