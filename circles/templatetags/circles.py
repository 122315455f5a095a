from __future__ import annotations

from django import template

from accounts.models import User
from circles import times
from circles.models import Circle, Meeting
from circles.selectors import public_name as _public_name

register = template.Library()


@register.filter
def public_name(user: User | None) -> str:
    """First name and last initial."""
    return _public_name(user) if user else ""


def _reader(context) -> str | None:
    # A fragment cached for every reader in a zone is rendered from the zone alone.
    if "reader_zone" in context:
        return context["reader_zone"]
    request = context.get("request")
    return times.reader_zone_name(getattr(request, "user", None) or context.get("user"))


@register.simple_tag(takes_context=True)
def when(context, meeting: Meeting) -> str:
    """A meeting's start, saying whose time it is (circles.times)."""
    return times.moment_text(meeting.starts_at, meeting.circle, _reader(context))


@register.simple_tag(takes_context=True)
def schedule(context, circle: Circle) -> str:
    """A circle's regular time, saying whose time it is (circles.times)."""
    return times.schedule_text(circle, _reader(context))
