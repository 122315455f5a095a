"""Event API URLs, included under /api/v1/ (views in events.api)."""

from __future__ import annotations

from django.urls import path

from events import api

urlpatterns = [
    path("events/", api.EventListView.as_view(), name="events"),
    path("events/<slug:slug>/", api.EventDetailView.as_view(), name="event"),
    path("events/<slug:slug>/register/", api.RegisterView.as_view(), name="event_register"),
]
