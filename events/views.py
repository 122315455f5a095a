"""Event pages: the list of events a man may see, and one event."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from events import calendar, selectors
from events.models import Event


def directory(request: HttpRequest) -> HttpResponse:
    events = Event.objects.upcoming().filter(visibility=Event.Visibility.PUBLIC)[:20]
    return render(request, "events/directory.html", {"events": events})


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = Event.objects.filter(slug=slug, visibility=Event.Visibility.PUBLIC).first()
    if event is None or event.status == Event.Status.DRAFT:
        raise Http404
    return render(request, "events/detail.html", {"event": event})


ICS = "text/calendar; charset=utf-8"


@require_GET
def event_ics(request: HttpRequest, slug: str) -> HttpResponse:
    """The event for his calendar, to whoever may see it; its address and joining details
    only to the men confirmed on it and its organisers."""
    event = selectors.event_page(request.user, slug)
    if event is None:
        raise Http404
    organiser = selectors.is_organiser(request.user, event)
    private = selectors.sees_private(selectors.my_registration(request.user, event), organiser)
    response = HttpResponse(calendar.event_ics(event, include_private=private), ICS)
    response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
    # What it holds depends on who asks: no shared cache keeps it.
    response["Cache-Control"] = "private, no-cache"
    return response
