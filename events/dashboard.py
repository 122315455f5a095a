"""His registrations on the dashboard (circles.dashboard's registry; one query, uncached)."""

from __future__ import annotations

from django.http import HttpRequest

from events import selectors


def section(request: HttpRequest) -> dict[str, object]:
    return {"registrations": selectors.dashboard_registrations(request.user)}
