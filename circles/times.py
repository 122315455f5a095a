"""Times as a reader reads them: every time says whose time it is.

An in-person meeting happens where the venue is, so its time is the circle's,
labelled with the city ("7:00 pm Los Angeles time"). An online (or hybrid)
meeting is joined from wherever the man is: his own time first, the circle's
in brackets. A reader whose zone we do not know (anonymous, or an account
still in UTC) gets the circle's time, said as the circle's.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from django.utils import timezone

from accounts.zones import FALLBACK, city_name
from circles.models import WEEKDAYS, Circle


def clock(moment: datetime) -> str:
    """7:00 pm."""
    return f"{moment.hour % 12 or 12}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}"


def day(moment: datetime) -> str:
    """Tuesday 1 December."""
    return f"{moment:%A} {moment.day} {moment:%B}"


def zone_label(name: str) -> str:
    return "UTC" if name == FALLBACK else f"{city_name(name)} time"


def reader_zone_name(user) -> str | None:
    """The reader's zone if he has told us one; None for anonymous or unset (UTC)."""
    if user is None or not user.is_authenticated:
        return None
    name = getattr(user, "time_zone", "") or FALLBACK
    return None if name == FALLBACK else name


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(FALLBACK)


def moment_text(moment: datetime, circle: Circle, reader: str | None, *, with_day=True) -> str:
    """When `moment` is, for a reader in zone `reader` (None: not known)."""
    there = timezone.localtime(moment, circle.zone)
    circle_text = f"{clock(there)} {zone_label(circle.time_zone)}"
    if with_day:
        circle_text = f"{day(there)}, {circle_text}"
    if not circle.is_online or reader is None or reader == circle.time_zone:
        return circle_text
    here = timezone.localtime(moment, _zone(reader))
    mine = f"{day(here)}, {clock(here)} your time" if with_day else f"{clock(here)} your time"
    return f"{mine} ({circle_text})"


def schedule_text(circle: Circle, reader: str | None, *, today: date | None = None) -> str:
    """ "Every Tuesday, 7:00 pm Los Angeles time", with the reader's own for an online circle."""
    weekday = dict(WEEKDAYS)[circle.weekday]
    if circle.frequency == Circle.Frequency.MONTHLY:
        nth = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}.get(circle.week_of_month or 1)
        words = f"{nth} {weekday} of the month"
    elif circle.frequency == Circle.Frequency.BIWEEKLY:
        words = f"Every other {weekday}"
    else:
        words = f"Every {weekday}"
    # The next such weekday: where the clocks stand this week (DST-correct).
    today = today or timezone.localdate(timezone=circle.zone)
    on = today + timedelta(days=(circle.weekday - today.weekday()) % 7)
    start = circle.local_start(on)
    there = f"{clock(timezone.localtime(start, circle.zone))} {zone_label(circle.time_zone)}"
    if not circle.is_online or reader is None or reader == circle.time_zone:
        return f"{words}, {there}"
    here = timezone.localtime(start, _zone(reader))
    shifted = f"{here:%A}s " if here.weekday() != circle.weekday else ""
    return f"{words}, {there} ({shifted}{clock(here)} your time)"
