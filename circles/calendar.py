"""iCalendar (RFC 5545) for meetings, written by hand: one small format, no dependency.

What an event says about a man: nothing. No member's name, email or phone
goes into a calendar; only the circle, the time, the place and a link.

A man's personal feed (`feed_ics`) holds his circles' meetings and whatever
the apps above circles add to it: each registers a feed source
(`feed_source`) from its AppConfig.ready(), so circles imports none of them.
They write their VEVENTs with the helpers here (escape_text, format_utc).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from accounts.models import User
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


def site_host() -> str:
    """The right-hand side of every UID: the site's host name."""
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
    stamp, host = format_utc(timezone.now()), site_host()
    return vcalendar(
        chain.from_iterable(
            _event(m, include_private=include_private, stamp=stamp, host=host) for m in meetings
        ),
        name=name,
    )


def vcalendar(lines: Iterable[str], *, name: str = "Men's Circle") -> str:
    """The VCALENDAR around `lines` (VEVENTs' content lines, unfolded), folded, CRLF ended."""
    head = [
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
    return "".join(fold(line) + CRLF for line in chain(head, lines, ["END:VCALENDAR"]))


# --- His personal feed: meetings, and what other apps add ---------------------------------

# A source gives a man's own entries in his feed: VEVENT content lines (unfolded),
# each event's private details included (the feed is his alone). Called with the
# user and the feed's `stamp` (DTSTAMP) and `host` (for UIDs).
FeedSource = Callable[..., Iterable[str]]
_feed_sources: dict[str, FeedSource] = {}


def feed_source(name: str, source: FeedSource) -> None:
    """Add a source to every personal feed (from an AppConfig.ready()); once per name."""
    existing = _feed_sources.get(name)
    if existing is not None and existing is not source:
        raise ValueError(f"calendar feed source {name!r} is registered twice")
    _feed_sources[name] = source


def feed_ics(user: User, meetings: Iterable[Meeting]) -> str:
    """His personal feed: his circles' meetings, then each registered source's entries."""
    stamp, host = format_utc(timezone.now()), site_host()
    meeting_lines = chain.from_iterable(
        _event(m, include_private=True, stamp=stamp, host=host) for m in meetings
    )
    others = (
        source(user, stamp=stamp, host=host)
        for _, source in sorted(_feed_sources.items(), key=lambda item: item[0])
    )
    return vcalendar(chain(meeting_lines, chain.from_iterable(others)))
