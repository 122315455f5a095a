from __future__ import annotations

from django.urls import path

from circles import views

app_name = "circles"

urlpatterns = [
    path("circles/", views.directory, name="directory"),
    path("circles/<slug:slug>/", views.detail, name="detail"),
    path("circles/<slug:slug>/join/", views.join, name="join"),
    path("circles/<slug:slug>/withdraw/", views.withdraw, name="withdraw"),
    path("circles/<slug:slug>/leave/", views.leave, name="leave"),
    path("circles/<slug:slug>/offer/", views.answer_offer, name="offer"),
    path("circles/<slug:slug>/agreements/", views.accept_agreements, name="agreements"),
    path("circles/<slug:slug>/sharing/", views.sharing, name="sharing"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("meetings/<int:pk>/", views.meeting, name="meeting"),
    path("meetings/<int:pk>/rsvp/", views.rsvp, name="rsvp"),
    path("meetings/<int:pk>/calendar.ics", views.meeting_ics, name="meeting_ics"),
    path("calendar/", views.calendar_settings, name="calendar"),
    path("calendar/replace/", views.calendar_replace, name="calendar_replace"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
