"""The messages an event sends its men, queued in the same transaction as the change.

Each goes through the notification log (notifications.services.notify), whose
unique key (man, channel, kind, subject key) makes it go once: the subject key
names the registration (`registration_key`), so a man hears of his
confirmation, his event's cancellation and its reminder once per registration,
a seat offer once per offer and a change once per change, however often the
calling code runs. Times are the event's, said as the event's ("Saturday 6
June, 9:00 am Lisbon time"): an event happens where it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from circles import times
from events.models import Event, Registration
from notifications.kinds import EMAIL, SMS, MessageKind
from notifications.services import notify

BOTH = (EMAIL, SMS)

KINDS = [
    MessageKind(
        name="event_confirmed",
        preference="updates",
        description="His place at an event is confirmed",
    ),
    MessageKind(
        name="event_offer",
        preference="updates",
        channels=BOTH,
        description="A seat at an event is his for 72 hours (he was on its waitlist)",
    ),
    MessageKind(
        name="event_reminder",
        preference="reminders",
        channels=BOTH,
        at_most_once=True,
        description="An event reminder the day before",
    ),
    MessageKind(
        name="event_changed",
        preference="updates",
        channels=BOTH,
        description="An event he registered for changed its time or place",
    ),
    MessageKind(
        name="event_cancelled",
        preference="updates",
        channels=BOTH,
        description="An event he registered for is cancelled",
    ),
    MessageKind(
        name="event_broadcast",
        preference="broadcasts",
        channels=BOTH,
        description="An organiser's message to the men registered for an event",
    ),
]

# What an organiser may change that the men must hear about.
CHANGE_FIELDS = ("starts_at", "ends_at", "time_zone", "public_area", "address", "joining_details")


def registration_key(registration: Registration) -> str:
    """The subject of every message about one registration (erasure forgets by its prefix)."""
    return f"event_registration:{registration.pk}"


def stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S%f}"


def when(event: Event) -> str:
    """ "Saturday 6 June, 9:00 am Lisbon time": the event's own time, said as its own."""
    there = timezone.localtime(event.starts_at, event.zone)
    return f"{times.day(there)}, {times.clock(there)} {times.zone_label(event.time_zone)}"


def context_for(registration: Registration, **extra: Any) -> dict[str, Any]:
    event = registration.event
    return {
        "event": event,
        "registration": registration,
        "when": when(event),
        "starts": timezone.localtime(event.starts_at, event.zone),
        "day": times.day(timezone.localtime(event.starts_at, event.zone)),
        **extra,
    }


def _send(registration: Registration, kind: str, subject_key: str, **extra: Any) -> int:
    return len(
        notify(
            user=registration.user,
            kind=kind,
            subject_key=subject_key,
            context=context_for(registration, **extra),
        )
    )


def confirmed(registration: Registration) -> int:
    """His place is his (free, paid or a free place): what, when, and where to find it."""
    return _send(registration, "event_confirmed", registration_key(registration))


def offered(registration: Registration) -> int:
    """A seat freed and he was first on the waitlist: it is his until the offer lapses."""
    expires = registration.offer_expires_at
    return _send(
        registration,
        "event_offer",
        f"{registration_key(registration)}:offer:{stamp(expires)}",
        expires=timezone.localtime(expires, ZoneInfo(registration.user.time_zone)),
    )


def _told(event: Event, registrations: Iterable[Registration] | None) -> list[Registration]:
    if registrations is None:
        registrations = event.registrations.live().select_related("user")
    return [r for r in registrations if r.event_id == event.pk]


def changed(
    event: Event,
    *,
    changes: Iterable[str],
    registrations: Iterable[Registration] | None = None,
) -> int:
    """Tell every man still registered (waitlist too) that the time or place moved.

    `changes` names the fields that changed (CHANGE_FIELDS); each change is
    its own subject (stamped with the event's updated_at), so a second change
    is told too, and the same change once.
    """
    changes = [name for name in CHANGE_FIELDS if name in set(changes)]
    if not changes or event.status in (Event.Status.DRAFT, Event.Status.CANCELLED):
        return 0
    moved = {
        "time_changed": bool({"starts_at", "ends_at", "time_zone"} & set(changes)),
        "place_changed": bool({"public_area", "address", "joining_details"} & set(changes)),
    }
    return sum(
        _send(
            registration,
            "event_changed",
            f"{registration_key(registration)}:changed:{stamp(event.updated_at)}",
            **moved,
        )
        for registration in _told(event, registrations)
    )


def cancelled(event: Event, *, registrations: Iterable[Registration] | None = None) -> int:
    """Tell every man registered (waitlist too) that the event is off; once each.

    Call it before the registrations themselves are cancelled, or hand it the
    ones that were live.
    """
    return sum(
        _send(
            registration,
            "event_cancelled",
            registration_key(registration),
            refund=registration.payment
            in (Registration.Payment.PAID, Registration.Payment.REFUNDED),
        )
        for registration in _told(event, registrations)
    )
