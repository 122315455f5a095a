"""Writes about dues: scholarships, offline payments, the lapsed-dues notice."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.models import OfflinePayment, Scholarship
from notifications.services import notify

ALREADY_ASKED = "You already have a request waiting for a treasurer."
NOT_PENDING = "This request is no longer waiting for a decision."
NEEDS_END_DATE = "An approved scholarship needs an end date in the future."


class BillingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def scholarship_request(*, user: User, kind: str, reason: str) -> Scholarship:
    """A member asks for reduced or waived dues; only treasurers read the reason.

    One request may wait at a time: the database holds that rule (a partial
    unique constraint), so parallel requests leave one, never two.
    """
    try:
        with transaction.atomic():
            return Scholarship.objects.create(user=user, kind=kind, reason=reason.strip())
    except IntegrityError:
        raise BillingError(ALREADY_ASKED) from None


@transaction.atomic
def scholarship_decide(
    *, scholarship: Scholarship, by: User, approve: bool, until: date | None = None
) -> Scholarship:
    """A treasurer approves (until a date) or declines a request."""
    scholarship = Scholarship.objects.select_for_update().get(pk=scholarship.pk)
    if scholarship.status != Scholarship.Status.REQUESTED:
        raise BillingError(NOT_PENDING)
    if approve and (until is None or until <= timezone.localdate()):
        raise BillingError(NEEDS_END_DATE)
    scholarship.status = Scholarship.Status.APPROVED if approve else Scholarship.Status.DECLINED
    scholarship.until = until if approve else None
    scholarship.decided_at = timezone.now()
    scholarship.decided_by = by
    scholarship.save(update_fields=["status", "until", "decided_at", "decided_by"])
    return scholarship


def offline_payment_record(*, user: User, by: User, **fields: object) -> OfflinePayment:
    payment = OfflinePayment(user=user, recorded_by=by, **fields)
    payment.full_clean()
    payment.save()
    return payment


def dues_past_due_notice(*, user: User, invoice_id: str, hosted_invoice_url: str) -> None:
    """A polite email when a payment fails: once per invoice, however often Stripe retries."""
    notify(
        user=user,
        kind="dues_past_due",
        subject_key=f"invoice:{invoice_id}",
        context={"invoice_url": hosted_invoice_url},
    )
