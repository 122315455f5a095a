"""Circle and meeting API URLs, included under /api/v1/ (views in circles.api)."""

from __future__ import annotations

from django.urls import path

from circles import api

urlpatterns = [
    path("circles/", api.CircleListView.as_view(), name="circles"),
    path("circles/<slug:slug>/", api.CircleDetailView.as_view(), name="circle"),
    path("meetings/", api.MeetingListView.as_view(), name="meetings"),
    path("meetings/<int:pk>/rsvp/", api.RSVPView.as_view(), name="rsvp"),
]
