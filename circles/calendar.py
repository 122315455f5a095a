"""iCalendar (RFC 5545) for meetings, written by hand: one small format, no dependency.

What an event says about a man: nothing. No member's name, email or phone
goes into a calendar; only the circle, the time, the place and a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from circles.models import Circle, Meeting

PRODID = "-//Men's Circle//mensc//EN"
FOLD_AT = 75  # octets per line, CRLF not counted (RFC 5545 3.1)
CRLF = "\r\n"
# TEXT may hold no control character but HTAB (newlines are escaped first).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, `;`, `,` and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\n", "\\n")
    return _CONTROL.sub("", value)


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never inside a character."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    limit = FOLD_AT
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
            limit = FOLD_AT - 1  # the continuation line's leading space is an octet
        current.append(char)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _location(circle: Circle, *, include_private: bool) -> str:
    if include_private:
        address = circle.private_address.strip()
        if circle.location_kind == Circle.LocationKind.ONLINE:
            address = ""
        link = circle.video_link if circle.is_online else ""
        if address and link:
            return f"{address} or online: {link}"
        if address or link:
            return address or link
    if circle.public_area:
        return circle.public_area
    return "Online" if circle.location_kind == Circle.LocationKind.ONLINE else ""


def _description(meeting: Meeting, url: str, *, include_private: bool) -> str:
    circle = meeting.circle
    lines = []
    if include_private and meeting.note:
        lines.append(meeting.note)
    if include_private and circle.is_online and circle.video_link:
        lines.append(f"Join online: {circle.video_link}")
    lines.append(f"Meeting page: {url}")
    return "\n".join(lines)


def _event(meeting: Meeting, *, include_private: bool, stamp: str, host: str) -> Iterator[str]:
    circle = meeting.circle
    url = settings.SITE_URL + meeting.get_absolute_url()
    cancelled = meeting.status == Meeting.Status.CANCELLED
    yield "BEGIN:VEVENT"
    yield f"UID:meeting-{meeting.pk}@{host}"
    yield f"DTSTAMP:{stamp}"
    yield f"DTSTART:{format_utc(meeting.starts_at)}"
    yield f"DTEND:{format_utc(meeting.ends_at)}"
    yield f"SUMMARY:{escape_text(circle.name)}"
    yield f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}"
    location = _location(circle, include_private=include_private)
    if location:
        yield f"LOCATION:{escape_text(location)}"
    yield f"DESCRIPTION:{escape_text(_description(meeting, url, include_private=include_private))}"
    yield f"URL:{url}"
    yield "END:VEVENT"


def meetings_ics(
    meetings: Iterable[Meeting], *, include_private: bool, name: str = "Men's Circle"
) -> str:
    """A VCALENDAR with one VEVENT per meeting (meeting.circle must be loaded).

    Times are UTC; a cancelled meeting stays in with STATUS:CANCELLED so that
    subscribed calendars drop it. `include_private` (members only) puts the
    private address or video link in LOCATION; otherwise only the public area.
    """
    stamp = format_utc(timezone.now())
    host = _host()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(name)}",
        f"X-WR-CALNAME:{escape_text(name)}",
        # Subscribed feeds: ask clients to look again hourly.
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for meeting in meetings:
        lines.extend(_event(meeting, include_private=include_private, stamp=stamp, host=host))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
