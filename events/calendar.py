"""Events in iCalendar: an event's own .ics, and his events in his personal calendar feed.

Written with circles.calendar's helpers (escape, fold, UTC times, the VCALENDAR
around), as meetings are. His feed is circles': events adds his entries through
the feed source it registers from EventsConfig.ready(), so circles imports
nothing of events.

What an entry says about a man: nothing. The address and joining details go
only to the men confirmed on the event and its organisers (selectors.sees_private);
everyone else who may see the event gets its public area.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from circles import calendar
from events.models import Event, Registration

# His feed keeps an event this long after it ended, as it keeps meetings.
FEED_DAYS_BACK = 7
FEED_MAX = 200


def _location(event: Event, *, include_private: bool) -> str:
    if include_private and event.address.strip():
        return event.address.strip()
    return event.public_area


def _description(event: Event, url: str, *, include_private: bool) -> str:
    lines = [event.description.strip()] if event.description.strip() else []
    if include_private and event.joining_details.strip():
        lines.append(event.joining_details.strip())
    lines.append(f"Event page: {url}")
    return "\n\n".join(lines)


def vevent(event: Event, *, include_private: bool, stamp: str, host: str) -> Iterator[str]:
    """The event's VEVENT content lines, unfolded. A cancelled event says so, for calendars
    that have it to drop it."""
    url = settings.SITE_URL + event.get_absolute_url()
    cancelled = event.status == Event.Status.CANCELLED
    yield "BEGIN:VEVENT"
    yield f"UID:event-{event.pk}@{host}"
    yield f"DTSTAMP:{stamp}"
    yield f"DTSTART:{calendar.format_utc(event.starts_at)}"
    yield f"DTEND:{calendar.format_utc(event.ends_at)}"
    yield f"SUMMARY:{calendar.escape_text(event.title)}"
    yield f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}"
    location = _location(event, include_private=include_private)
    if location:
        yield f"LOCATION:{calendar.escape_text(location)}"
    description = _description(event, url, include_private=include_private)
    yield f"DESCRIPTION:{calendar.escape_text(description)}"
    yield f"URL:{url}"
    yield "END:VEVENT"


def event_ics(event: Event, *, include_private: bool) -> str:
    """One event's calendar file (GET /events/<slug>/event.ics)."""
    stamp, host = calendar.format_utc(timezone.now()), calendar.site_host()
    lines = vevent(event, include_private=include_private, stamp=stamp, host=host)
    return calendar.vcalendar(lines, name=event.title)


def feed_registrations(user: User) -> list[Registration]:
    """What his feed shows: the events he is confirmed on, and those the organiser cancelled
    under him (to drop them from his calendar), from a week ago on; one query."""
    return list(
        Registration.objects.filter(
            user=user, event__ends_at__gt=timezone.now() - timedelta(days=FEED_DAYS_BACK)
        )
        .filter(
            Q(status=Registration.Status.CONFIRMED)
            | Q(status=Registration.Status.CANCELLED, event__status=Event.Status.CANCELLED)
        )
        .exclude(event__status=Event.Status.DRAFT)
        .select_related("event")
        .order_by("event__starts_at", "event_id", "-pk")[:FEED_MAX]
    )


def feed_entries(user: User, *, stamp: str, host: str) -> Iterator[str]:
    """His events in his personal feed (a circles.calendar feed source)."""
    seen: set[int] = set()
    for registration in feed_registrations(user):
        if registration.event_id in seen:  # a cancelled registration and a later one
            continue
        seen.add(registration.event_id)
        confirmed = registration.status == Registration.Status.CONFIRMED
        yield from vevent(registration.event, include_private=confirmed, stamp=stamp, host=host)


def register() -> None:
    calendar.feed_source("events", feed_entries)
