from __future__ import annotations

from django.urls import path

from events import payment_views, views

app_name = "events"

urlpatterns = [
    path("events/", views.directory, name="directory"),
    path("events/<slug:slug>/", views.detail, name="detail"),
    path("events/<slug:slug>/register/", views.register, name="register"),
    path("events/<slug:slug>/cancel/", views.cancel, name="cancel"),
    path("events/<slug:slug>/offer/", views.answer_offer, name="offer"),
    path("events/<slug:slug>/pay/", payment_views.pay, name="pay"),
    path("events/<slug:slug>/checkout/", payment_views.checkout, name="checkout"),
    path("events/<slug:slug>/free-place/", payment_views.free_place, name="free_place"),
    path("events/<slug:slug>/paid/", payment_views.paid, name="paid"),
    path("events/<slug:slug>/event.ics", views.event_ics, name="ics"),
]
