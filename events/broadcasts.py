"""An organiser's message to the men registered for an event, by email and/or SMS.

The same rules as a facilitator's message to his circle (circles.broadcasts):
the same input limits and form, the same BROADCASTS_PER_WINDOW per WINDOW per
event counted in the notification log, one subject key per message
("event_broadcast:<event>:<key>") so a double-submitted form sends once, and
the event row locked while counting and queuing so two organisers can't both
take the last slot.

Recipients: every man with a live registration (confirmed, holding a seat
while paying or offered one, or on the waitlist), not the man who writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import uuid4

from django.db import transaction

from accounts.models import User
from circles.broadcasts import BROADCASTS_PER_WINDOW, check_message, sent_in_window
from circles.selectors import public_name
from events.models import Event, Registration
from events.scope import organises
from notifications.models import Notification
from notifications.services import notify

KIND = "event_broadcast"

TOO_MANY = (
    f"This event's men have already had {BROADCASTS_PER_WINDOW} messages in the last 24 hours. "
    "Nothing was sent: please try again later."
)
NOT_ORGANISER = "Only an organiser of this event can message its men."


class BroadcastError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _key_prefix(event: Event) -> str:
    return f"{KIND}:{event.pk}:"


def broadcasts_in_window(event: Event) -> int:
    return sent_in_window(
        kind=KIND,
        prefix=_key_prefix(event),
        user_ids=Registration.objects.filter(event=event).values("user_id"),
    )


def recipients(event: Event, *, sender: User) -> list[User]:
    registrations = (
        Registration.objects.live()
        .filter(event=event)
        .exclude(user_id=sender.pk)
        .select_related("user")
        .order_by("pk")
    )
    return [registration.user for registration in registrations]


def event_broadcast_send(
    *,
    event: Event,
    sender: User,
    title: str,
    text: str,
    channels: Iterable[str],
    key: str | None = None,
) -> int:
    """Queue `text` to every man registered for `event` on each chosen channel he accepts.

    Returns how many messages were queued; raises BroadcastError (TOO_MANY,
    NOT_ORGANISER) and queues nothing when it may not go out. `key` (the
    form's) makes a double submit one message.
    """
    channels = check_message(text, channels)
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event.pk)
        if not organises(sender, event):
            raise BroadcastError(NOT_ORGANISER)
        subject_key = f"{_key_prefix(event)}{key or uuid4().hex}"
        if Notification.objects.filter(kind=KIND, subject_key=subject_key).exists():
            return 0  # already sent: the form was submitted twice
        if broadcasts_in_window(event) >= BROADCASTS_PER_WINDOW:
            raise BroadcastError(TOO_MANY)
        # The sender's public name only: never his email or phone.
        context = {"event": event, "title": title, "text": text, "sender": public_name(sender)}
        return sum(
            len(
                notify(
                    user=user,
                    kind=KIND,
                    subject_key=subject_key,
                    context=context,
                    channels=channels,
                )
            )
            for user in recipients(event, sender=sender)
        )
