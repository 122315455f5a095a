from __future__ import annotations

from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("events/", views.directory, name="directory"),
    path("events/<slug:slug>/", views.detail, name="detail"),
    path("events/<slug:slug>/register/", views.register, name="register"),
    path("events/<slug:slug>/cancel/", views.cancel, name="cancel"),
    path("events/<slug:slug>/offer/", views.answer_offer, name="offer"),
    path("events/<slug:slug>/event.ics", views.event_ics, name="ics"),
]
