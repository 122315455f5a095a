"""The notification log: every outbound message, once.

A row per (recipient, channel, kind, subject): the unique key is what makes
a reminder or an event message go out once however many processes try.
The row never holds a working token: links that sign someone in or prove an
address are minted at delivery (see notifications.kinds).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED_TRANSIENT = "failed_transient", "Failed, will retry"
        FAILED_PERMANENT = "failed_permanent", "Failed"
        SKIPPED = "skipped", "Skipped"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    # An email that must go to an address fixed when it was queued, not to
    # the member's address at delivery (a link to an address that is not his
    # yet, a notice to one that is no longer his). Empty: user.email. Kept
    # no longer than the body (purge_notifications).
    to_email = models.EmailField(blank=True)
    kind = models.CharField(max_length=40)
    # What the message is about, e.g. "meeting:12:24h" or "membership:5:approved".
    subject_key = models.CharField(max_length=100)
    # Rendered when queued, with placeholders for the kind's minted links; so
    # delivery needs nothing but this row and a fresh link. Subject and body are
    # dropped NOTIFICATION_BODY_DAYS after the message is done with.
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # At most once (SMS, reminders): a row left "sending" by a crash is never
    # sent again. Otherwise at least once: a stale "sending" row is retried.
    at_most_once = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    provider_id = models.CharField(max_length=100, blank=True, db_index=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "kind", "subject_key"], name="notifications_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notifications_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} to user {self.user_id}: {self.status}"


class SmsOptOut(models.Model):
    """A number that replied STOP: no text goes to it until it replies START."""

    phone = models.CharField(max_length=20, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.phone
