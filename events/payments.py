"""Paying for an event: tickets on a sliding scale, the 30-minute hold, free places, refunds.

Money moves only through billing.stripe_gateway. A registration for an event
with tiers starts "held" (events.services.register): his seat is kept for
HOLD while he pays in Stripe Checkout (payment mode). Only the verified
webhook confirms it: billing.payments hands the paid session to `checkout_paid`
(registered in events.apps for PURPOSE). Decisions the issue leaves open:

- A ticket tier gets its one-time Stripe Price the first time a man pays for
  it (or from `manage.py event_ticket_prices`), made with an idempotency key
  per tier and amount, so two men paying at once make one price. Each
  checkout checks the tier's price with Stripe: when an organiser changed the
  amount, a new price is made, and nobody pays an old one.
- `expire_event_holds` closes a lapsed hold's Checkout Session before it
  releases the seat, and leaves the hold alone if he paid first (its webhook
  confirms him). A payment that still lands on a registration no longer held
  (he cancelled while at Checkout, paid in two tabs, or Stripe could not be
  reached to close the session) is refunded in full at once: a seat is never
  sold twice, and he may register again.
- Asking for a free place keeps his seat (no time limit) until an organiser
  decides; approved, he is confirmed with payment "free_place"; declined, his
  registration is cancelled and the seat passes to the waitlist.
- When an event is cancelled (`event_cancel`, or its status set to cancelled
  in the admin), every paid registration is refunded once: the row is
  locked, the refund asked of Stripe with a key per registration, `refunded_at`
  set in the same transaction. A man who cancels his paid seat himself (before
  the deadline, events.services.cancel) is refunded the same way. A refund
  Stripe could not make is left for `manage.py issue_event_refunds` (hourly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from billing import stripe_gateway
from events import services, signals
from events.models import Event, Registration, TicketTier
from notifications.transport import TransportError

logger = logging.getLogger("mensc.events")

PURPOSE = "event_registration"
HOLD = timedelta(minutes=30)
FREE_PLACE_REASON_MAX = 500

NOT_CONFIGURED = "Paying online is not offered here: ask the event's organisers how to pay."
STRIPE_DOWN = "Payments are unavailable right now. Please try again in a few minutes."
NOT_HELD = "There is no seat held for you to pay for: register for the event first."
HOLD_LAPSED = "Your held seat was released because the payment was not finished in time."
NO_TIER = "This registration has no ticket to pay for."
ALREADY_PAID = "You have already paid: we are waiting for the payment to be confirmed."
REASON_NEEDED = "Please say in a few words why you are asking for a free place."
REASON_TOO_LONG = f"Please keep your reason under {FREE_PLACE_REASON_MAX} characters."
NOT_REQUESTED = "This registration is not waiting for a free-place decision."
EVENT_CLOSED = "This event is no longer taking registrations."

Held = Registration.Status.HELD
Pending = Registration.Payment.PENDING


class PaymentError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Prices --------------------------------------------------------------------------------


def tier_price_ensure(*, tier: TicketTier) -> str:
    """The tier's Stripe Price id, made now if it has none that fits. Raises TransportError.

    A price id the tier has is checked with Stripe (one request): one that no
    longer fits the tier (its amount or currency changed in the admin, or an
    id typed in that Stripe does not know as a one-time price) is replaced.
    The idempotency key names the tier and its amount: two men paying at once
    (or the command run twice) make one price.
    """
    current = tier.stripe_price_id
    currency = tier.currency.lower()
    if current and stripe_gateway.one_time_price_fits(
        current, amount_cents=tier.amount_cents, currency=currency
    ):
        return current
    price_id = stripe_gateway.ticket_price_create(
        product_name=f"Ticket: {tier.event.title}"[:250],
        name=tier.name,
        amount_cents=tier.amount_cents,
        currency=currency,
        idempotency_key=f"event-tier-{tier.pk}-{tier.amount_cents}-{currency}",
    )
    TicketTier.objects.filter(pk=tier.pk, stripe_price_id=current).update(stripe_price_id=price_id)
    tier.stripe_price_id = price_id
    return price_id


def tier_prices_ensure() -> tuple[int, int]:
    """Give every tier of an event still to come its Stripe Price; (made, failed)."""
    made = failed = 0
    tiers = TicketTier.objects.filter(stripe_price_id="", event__ends_at__gt=timezone.now())
    for tier in tiers.select_related("event"):
        try:
            tier_price_ensure(tier=tier)
        except TransportError as error:
            logger.warning("price for tier %s not made: %s", tier.pk, error.message)
            failed += 1
        else:
            made += 1
    return made, failed


# --- Paying --------------------------------------------------------------------------------


def _lock(registration: Registration) -> tuple[Event, Registration]:
    """The event's row, then the registration's: the order every seat count locks in."""
    event = Event.objects.select_for_update().get(pk=registration.event_id)
    return event, Registration.objects.select_for_update().get(pk=registration.pk)


def _confirmed(registration: Registration) -> None:
    transaction.on_commit(
        lambda: signals.registration_confirmed.send(sender=Registration, registration=registration)
    )


def _cancelled(registration: Registration) -> None:
    transaction.on_commit(
        lambda: signals.registration_cancelled.send(sender=Registration, registration=registration)
    )


def _seat_freed(event: Event) -> None:
    """A seat came free (event locked): offer it to the waitlist."""
    services.seat_offer_next(event=event)


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def checkout_start(*, registration: Registration) -> str:
    """The Stripe Checkout URL where he pays for his held seat. Raises PaymentError.

    His seat is held until `hold_expires_at` (set once, HOLD from the first
    attempt: going to Checkout again does not stretch it). A session opened
    before is closed first, so one hold is paid at most once.
    """
    if not stripe_gateway.is_configured():
        raise PaymentError(NOT_CONFIGURED)
    now = timezone.now()
    with transaction.atomic():
        registration = _held(registration)
        event = registration.event
        if registration.tier is None:
            raise PaymentError(NO_TIER)
        if registration.hold_expires_at is None:
            registration.hold_expires_at = now + HOLD
        # Forgotten first, so the news of its expiry cannot release his hold.
        previous, registration.checkout_session_id = registration.checkout_session_id, ""
        registration.save(update_fields=["hold_expires_at", "checkout_session_id"])
    try:
        if previous and stripe_gateway.checkout_expire(previous) == "complete":
            raise PaymentError(ALREADY_PAID)
        price_id = tier_price_ensure(tier=registration.tier)
        session_id, url = stripe_gateway.payment_checkout(
            user=registration.user,
            price_id=price_id,
            purpose=PURPOSE,
            reference=str(registration.pk),
            success_url=_site(reverse("events:paid", args=[event.slug])),
            cancel_url=_site(reverse("events:pay", args=[event.slug]) + "?checkout=cancelled"),
            expires_at=registration.hold_expires_at,
        )
    except TransportError as error:
        logger.warning("checkout for registration %s failed: %s", registration.pk, error.message)
        raise PaymentError(STRIPE_DOWN) from error
    Registration.objects.filter(pk=registration.pk, status=Held).update(
        checkout_session_id=session_id
    )
    return url


@dataclass(frozen=True)
class _Paid:
    registration_id: int
    session_id: str
    payment_intent: str
    amount: int


def _paid(session: dict) -> _Paid | None:
    reference = (session.get("metadata") or {}).get("reference", "")
    if not reference.isdigit():
        return None
    return _Paid(
        registration_id=int(reference),
        session_id=session["id"],
        payment_intent=session.get("payment_intent") or "",
        amount=session.get("amount_total") or 0,
    )


@transaction.atomic
def checkout_paid(session: dict) -> None:
    """A verified, paid Checkout Session for a registration: confirm him, once.

    Called by billing.payments inside the webhook's transaction; a replay of
    the same event never arrives here, and a second delivery of the same
    payment (another event) finds him paid already and does nothing. Raises
    TransportError if a refund it must make fails: nothing is kept and Stripe
    sends the event again.
    """
    paid = _paid(session)
    if paid is None:
        logger.warning("paid session %s names no registration", session.get("id"))
        return
    registration = Registration.objects.filter(pk=paid.registration_id).first()
    if registration is None:
        # His account was deleted while he paid: give the money back.
        _refund_orphan(paid)
        return
    _event, registration = _lock(registration)  # the event first, as every seat change locks
    if paid.payment_intent and registration.payment_intent_id == paid.payment_intent:
        return  # this payment was handled before
    if registration.status == Held and registration.payment == Pending:
        _confirm_paid(registration, paid)
        return
    # Not held for payment any more (cancelled, paid already, a free place asked):
    # the money goes back, and no seat is sold twice.
    refund_id = stripe_gateway.refund(
        payment_intent=paid.payment_intent, idempotency_key=f"event-payment-{paid.session_id}"
    )
    logger.info(
        "payment %s on registration %s refunded (%s)", paid.session_id, registration.pk, refund_id
    )
    if registration.status == Registration.Status.CANCELLED and registration.payment == Pending:
        registration.payment = Registration.Payment.REFUNDED
        registration.payment_intent_id = paid.payment_intent
        registration.amount_cents = paid.amount
        registration.refunded_at = timezone.now()
        registration.save(
            update_fields=["payment", "payment_intent_id", "amount_cents", "refunded_at"]
        )


def _confirm_paid(registration: Registration, paid: _Paid) -> None:
    registration.status = Registration.Status.CONFIRMED
    registration.payment = Registration.Payment.PAID
    registration.payment_intent_id = paid.payment_intent
    registration.checkout_session_id = paid.session_id
    registration.amount_cents = paid.amount
    registration.hold_expires_at = None
    registration.save(
        update_fields=[
            "status",
            "payment",
            "payment_intent_id",
            "checkout_session_id",
            "amount_cents",
            "hold_expires_at",
            "cancelled_at",
        ]
    )
    _confirmed(registration)


def _refund_orphan(paid: _Paid) -> None:
    if paid.payment_intent:
        stripe_gateway.refund(
            payment_intent=paid.payment_intent, idempotency_key=f"event-payment-{paid.session_id}"
        )


# --- Holds that lapse ----------------------------------------------------------------------


def checkout_expired(session: dict) -> None:
    """Stripe closed his Checkout Session unpaid: release his seat if it is still held for it."""
    paid = _paid(session)
    if paid is None:
        return
    registration = Registration.objects.filter(
        pk=paid.registration_id, checkout_session_id=paid.session_id
    ).first()
    if registration is not None:
        _hold_release(registration, session_id=paid.session_id)


def _hold_release(registration: Registration, *, session_id: str) -> bool:
    with transaction.atomic():
        event, registration = _lock(registration)
        if (
            registration.status != Held
            or registration.payment != Pending
            or registration.checkout_session_id != session_id
        ):
            return False  # paid, asked for a free place, or went to Checkout again meanwhile
        registration.status = Registration.Status.CANCELLED
        registration.cancelled_at = timezone.now()
        registration.save(update_fields=["status", "cancelled_at"])
        _seat_freed(event)
        _cancelled(registration)
    return True


def holds_expire(*, now: datetime | None = None) -> tuple[int, int]:
    """Release every seat held past its time; (released, left for later).

    Each lapsed hold's Checkout Session is closed through Stripe first: one
    paid in that moment is left held for its webhook, and one Stripe cannot
    be asked about now stays for the next run. Safe to run from several hosts.
    """
    now = now or timezone.now()
    lapsed = Registration.objects.filter(status=Held, payment=Pending, hold_expires_at__lte=now)
    released = later = 0
    for registration in lapsed.only("pk", "event_id", "checkout_session_id"):
        session_id = registration.checkout_session_id
        if session_id:
            try:
                if stripe_gateway.checkout_expire(session_id) == "complete":
                    later += 1  # paid: its webhook confirms (or refunds) it
                    continue
            except TransportError as error:
                logger.warning("hold %s not released: %s", registration.pk, error.message)
                later += 1
                continue
        if _hold_release(registration, session_id=session_id):
            released += 1
    return released, later


# --- Free places ---------------------------------------------------------------------------


def _held(registration: Registration) -> Registration:
    """His registration, locked, if it is still held for payment (else PaymentError)."""
    event, registration = _lock(registration)
    if registration.status != Held or registration.payment != Pending:
        raise PaymentError(NOT_HELD)
    if event.status not in Event.REGISTERING:
        raise PaymentError(EVENT_CLOSED)
    expires = registration.hold_expires_at
    if expires is not None and expires <= timezone.now():
        raise PaymentError(HOLD_LAPSED)
    return registration


def free_place_request(*, registration: Registration, reason: str) -> Registration:
    """He asks for a free place instead of paying; his seat stays held until organisers decide."""
    reason = reason.strip()
    if not reason:
        raise PaymentError(REASON_NEEDED)
    if len(reason) > FREE_PLACE_REASON_MAX:
        raise PaymentError(REASON_TOO_LONG)
    with transaction.atomic():
        registration = _held(registration)
        # Forgotten first, so the news of its expiry cannot release his hold.
        session_id, registration.checkout_session_id = registration.checkout_session_id, ""
        registration.save(update_fields=["checkout_session_id"])
    if session_id:
        # Closed, so no payment lands on a seat he now asks to have free.
        try:
            if stripe_gateway.checkout_expire(session_id) == "complete":
                raise PaymentError(ALREADY_PAID)
        except TransportError as error:
            raise PaymentError(STRIPE_DOWN) from error
    with transaction.atomic():
        registration = _held(registration)
        registration.payment = Registration.Payment.FREE_PLACE_REQUESTED
        registration.free_place_reason = reason
        registration.hold_expires_at = None
        registration.save(update_fields=["payment", "free_place_reason", "hold_expires_at"])
    return registration


def free_place_decide(*, registration: Registration, approve: bool) -> Registration:
    """An organiser grants the free place (he is confirmed) or declines it (his seat passes on)."""
    with transaction.atomic():
        event, registration = _lock(registration)
        if (
            registration.status != Held
            or registration.payment != Registration.Payment.FREE_PLACE_REQUESTED
        ):
            raise PaymentError(NOT_REQUESTED)
        if approve:
            registration.status = Registration.Status.CONFIRMED
            registration.payment = Registration.Payment.FREE_PLACE
            registration.amount_cents = 0
            registration.save(update_fields=["status", "payment", "amount_cents"])
            _confirmed(registration)
        else:
            registration.status = Registration.Status.CANCELLED
            registration.cancelled_at = timezone.now()
            registration.save(update_fields=["status", "cancelled_at"])
            _seat_freed(event)
            _cancelled(registration)
    return registration


# --- Refunds -------------------------------------------------------------------------------


def registration_refund(*, registration: Registration) -> bool:
    """Refund his payment in full, once; whether this call refunded it. Raises TransportError.

    The row stays locked while Stripe is asked, and the key is the same for
    every attempt: two runs at once, or a retry after a lost answer, make one
    refund.
    """
    with transaction.atomic():
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.refunded_at is not None:
            return False  # another run did it
        if registration.payment != Registration.Payment.PAID or not registration.payment_intent_id:
            return False
        stripe_gateway.refund(
            payment_intent=registration.payment_intent_id,
            idempotency_key=f"event-registration-{registration.pk}-refund",
        )
        registration.payment = Registration.Payment.REFUNDED
        registration.refunded_at = timezone.now()
        registration.save(update_fields=["payment", "refunded_at"])
    return True


def refunds_issue(*, event: Event | None = None) -> tuple[int, int]:
    """Refund every paid registration of a cancelled event, or cancelled by him.

    Returns (refunded, failed); a failure is logged and left for the next run
    (`manage.py issue_event_refunds`).
    """
    owed = Registration.objects.filter(
        Q(event__status=Event.Status.CANCELLED) | Q(status=Registration.Status.CANCELLED),
        payment=Registration.Payment.PAID,
        refunded_at__isnull=True,
    )
    if event is not None:
        owed = owed.filter(event=event)
    refunded = failed = 0
    for registration in owed.only("pk"):
        try:
            if registration_refund(registration=registration):
                refunded += 1
        except TransportError as error:
            logger.warning("refund of registration %s failed: %s", registration.pk, error.message)
            failed += 1
    return refunded, failed


def event_cancel(*, event: Event) -> Event:
    """The organisers cancel the event: nobody can register, and every payment is refunded.

    The refunds are asked of Stripe after the cancellation is committed (one
    failing does not undo it); any left owed are retried by `issue_event_refunds`.
    """
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event.pk)
        if event.status == Event.Status.CANCELLED:
            return event
        event.status = Event.Status.CANCELLED
        event.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: refunds_issue(event=event))
    return event


def registration_cancelled(*, registration: Registration) -> None:
    """He (or an organiser) cancelled: close his open Checkout, or refund what he paid.

    Connected to events.signals.registration_cancelled, which is sent on
    commit. A failure here is logged: a payment still landing is refunded by
    `checkout_paid`, a refund still owed by `issue_event_refunds`.
    """
    try:
        if registration.payment == Registration.Payment.PAID:
            registration_refund(registration=registration)
        elif (
            registration.payment == Pending
            and registration.checkout_session_id
            # A lapsed hold's session was closed before its seat was released.
            and (registration.hold_expires_at or timezone.now()) > timezone.now()
        ):
            stripe_gateway.checkout_expire(registration.checkout_session_id)
    except TransportError as error:
        logger.warning("registration %s not settled: %s", registration.pk, error.message)
