"""Event pages: the list of events a man may see, and one event."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from events.models import Event


def directory(request: HttpRequest) -> HttpResponse:
    events = Event.objects.upcoming().filter(visibility=Event.Visibility.PUBLIC)[:20]
    return render(request, "events/directory.html", {"events": events})


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = Event.objects.filter(slug=slug, visibility=Event.Visibility.PUBLIC).first()
    if event is None or event.status == Event.Status.DRAFT:
        raise Http404
    return render(request, "events/detail.html", {"event": event})
