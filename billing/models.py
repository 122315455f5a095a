"""Dues: sliding-scale tiers, scholarships and offline payments.

Subscriptions, customers and invoices are dj-stripe's models (in `default`,
kept in sync by Stripe's webhooks); a member's dues status is derived from
them and from the records here (billing.selectors.dues_status).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class DuesTier(models.Model):
    """A level of the sliding scale, mapped to a recurring Stripe Price."""

    name = models.CharField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    amount_cents = models.PositiveIntegerField(validators=[MinValueValidator(100)])
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(
        max_length=100, unique=True, help_text="The recurring Stripe Price (price_...)."
    )
    covers_another = models.BooleanField(
        default=False, help_text="Pays for another man's dues as well (e.g. Sponsor)."
    )
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "amount_cents"]

    def __str__(self) -> str:
        return f"{self.name} ({self.amount_cents / 100:.2f} {self.currency.upper()}/month)"


class Scholarship(models.Model):
    """A member's request for reduced or waived dues; the reason is for treasurers only."""

    class Kind(models.TextChoices):
        REDUCED = "reduced", "Reduced dues"
        WAIVED = "waived", "Waived dues"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scholarships"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.TextField(help_text="Private: only treasurers read it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    until = models.DateField(null=True, blank=True, help_text="Approved until this date.")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # One request waiting for a treasurer per member, however many
            # arrive at once (billing.services.scholarship_request).
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="requested"),
                name="billing_one_open_scholarship_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for user {self.user_id}: {self.status}"


class OfflinePayment(models.Model):
    """Dues paid outside Stripe (cash, cheque), recorded by a treasurer.

    A record for the books: when the member deletes his account it stays,
    without him (`user` empty, the note emptied: billing.erasure).
    """

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CHEQUE = "cheque", "Cheque"
        TRANSFER = "transfer", "Bank transfer"
        OTHER = "other", "Other"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="offline_payments",
    )
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    method = models.CharField(max_length=10, choices=Method.choices)
    covers_from = models.DateField()
    covers_until = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-covers_until"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(covers_until__gte=models.F("covers_from")),
                name="billing_offline_period_forward",
                violation_error_message="The period must end on or after its start.",
            ),
        ]

    def __str__(self) -> str:
        by = f"user {self.user_id}" if self.user_id else "a deleted account"
        return f"{self.get_method_display()} payment by {by}"
