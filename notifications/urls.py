from __future__ import annotations

from django.urls import path

from notifications import webhooks

app_name = "notifications"

urlpatterns = [
    path("twilio/sms/", webhooks.inbound_sms, name="twilio_sms"),
    path("twilio/status/", webhooks.delivery_status, name="twilio_status"),
]
