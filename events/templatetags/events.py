from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from circles.times import clock, day, zone_label
from events.models import Event

register = template.Library()


def _day(moment: datetime, today: datetime) -> str:
    return day(moment) if moment.year == today.year else f"{day(moment)} {moment.year}"


def event_time_text(event: Event) -> str:
    """ "Saturday 6 March, 10:00 am to 4:00 pm New York time", in the event's own zone.

    An event happens where it is held: its time is the event's, saying whose.
    """
    start, end = event.local_starts_at(), event.local_ends_at()
    today = timezone.localtime(timezone.now(), event.zone)
    first = f"{_day(start, today)}, {clock(start)}"
    if end.date() == start.date():
        return f"{first} to {clock(end)} {zone_label(event.time_zone)}"
    return f"{first} to {_day(end, today)}, {clock(end)} {zone_label(event.time_zone)}"


def moment_text(event: Event, moment: datetime) -> str:
    there = timezone.localtime(moment, event.zone)
    today = timezone.localtime(timezone.now(), event.zone)
    return f"{_day(there, today)}, {clock(there)} {zone_label(event.time_zone)}"


@register.simple_tag
def event_when(event: Event) -> str:
    return event_time_text(event)


@register.simple_tag
def event_moment(event: Event, moment: datetime | None) -> str:
    """Any moment of the event's (its deadline, an offer's end) in the event's time."""
    return moment_text(event, moment) if moment else ""


@register.filter
def money(cents: int, currency: str = "usd") -> str:
    return f"{cents / 100:.2f} {currency.upper()}"
