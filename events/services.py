"""Every write about registering for events: registering, cancelling, seat offers.

Seat rules: who holds a seat is `RegistrationQuerySet.holding_seats()` (held,
offered, confirmed) and nowhere else. Every change of who holds a seat locks
the Event row first (SELECT ... FOR UPDATE), so concurrent requests for the
last seat never exceed the capacity. The waitlist comes first: a free seat is
offered to the first man waiting (72 hours, as a circle's seat offers:
circles.services.OFFER_HOURS), and a newcomer waits behind anyone waiting.

Paid events: an event with ticket tiers gives a newcomer (or a man accepting
an offer) a HELD registration for HOLD_MINUTES with payment PENDING; the
payment flow (Checkout, the verified webhook) confirms it. Free events confirm
at once.

What happened is announced on commit through events.signals (messages connect there).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from circles.services import OFFER_HOURS
from events import dashboard as event_dashboard
from events import selectors, signals
from events.models import Answer, Event, Question, Registration, TicketTier

# How long a seat is kept for a man while he pays.
HOLD_MINUTES = 30
ANSWER_MAX = 1000

NOT_VERIFIED = "Please verify your email address before registering for an event."
NOT_VISIBLE = "This event is not open to you."
NOT_OPEN = "This event is not taking registrations."
CLOSED = "Registration for this event has closed."
ALREADY_REGISTERED = "You are already registered for this event."
CHOOSE_TIER = "Please choose a ticket."
NO_SUCH_TIER = "Please choose one of this event's tickets."
NO_TICKETS = "This event is free: there is no ticket to choose."
ANSWER_REQUIRED = "Please answer: {label}"
ANSWER_TOO_LONG = f"Please keep your answer under {ANSWER_MAX} characters."
NOT_AN_ANSWER = "Answers are text."
NO_SUCH_QUESTION = "This event asks no such question."
NOT_CANCELLABLE = "There is no registration to cancel."
TOO_LATE_TO_CANCEL = "Cancelling closed with registration: please write to the organisers."
NO_OFFER = "There is no seat offer to answer, or it has expired."

REGISTERED = "You are registered. See you there."
WAITLISTED = (
    "The event is full: you are on its waitlist. Seats go to the men waiting in the order "
    f"they registered, and we will write to you when one is yours ({OFFER_HOURS} hours to answer)."
)
HELD = "Your seat is kept for {minutes} minutes while you pay."
CANCELLED = "Your registration is cancelled."


class EventError(Exception):
    """A request that can't be done; `message` is shown as is, `field` names the bad input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- Reads the writes depend on ---------------------------------------------------------


def seats_taken(event: Event) -> int:
    """How many seats are held now (see `RegistrationQuerySet.holding_seats`)."""
    return event.registrations.holding_seats().count()


def _lock(event: Event) -> Event:
    return Event.objects.select_for_update().get(pk=event.pk)


def sync_status(event: Event) -> None:
    """Open while a seat is free, full when none is (only between those two); event locked."""
    if event.status not in Event.REGISTERING:
        return
    status = Event.Status.FULL if seats_taken(event) >= event.capacity else Event.Status.OPEN
    if status != event.status:
        event.status = status
        event.save(update_fields=["status", "updated_at"])


def _announce(signal, registration: Registration) -> None:
    transaction.on_commit(lambda: signal.send(sender=Registration, registration=registration))


def clean_answers(event: Event, answers: Mapping[object, object] | None) -> dict[Question, str]:
    """His answers by question, checked: required ones given, each text and not too long.

    `answers` maps a question's id (int or its digits) to the text. Raises
    EventError naming the field ("answers.<id>") on the first bad one.
    """
    answers = answers or {}
    if not isinstance(answers, Mapping):
        raise EventError(NOT_AN_ANSWER, field="answers")
    questions = {question.pk: question for question in event.questions.all()}
    given: dict[int, object] = {}
    for key, value in answers.items():
        pk = int(key) if isinstance(key, int) or str(key).isdigit() else None
        if pk not in questions:
            raise EventError(NO_SUCH_QUESTION, field=f"answers.{str(key)[:20]}")
        given[pk] = value
    cleaned: dict[Question, str] = {}
    for pk, question in questions.items():
        value = given.get(pk, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise EventError(NOT_AN_ANSWER, field=f"answers.{pk}")
        value = value.strip()
        if len(value) > ANSWER_MAX:
            raise EventError(ANSWER_TOO_LONG, field=f"answers.{pk}")
        if question.required and not value:
            raise EventError(ANSWER_REQUIRED.format(label=question.label), field=f"answers.{pk}")
        if value:
            cleaned[question] = value
    return cleaned


def _clean_tier(event: Event, tier: TicketTier | int | str | None) -> TicketTier | None:
    tiers = {t.pk: t for t in event.tiers.all()}
    if not tiers:
        if tier not in (None, ""):
            raise EventError(NO_TICKETS, field="tier")
        return None
    if tier in (None, ""):
        raise EventError(CHOOSE_TIER, field="tier")
    pk = tier.pk if isinstance(tier, TicketTier) else tier
    if isinstance(pk, str) and pk.isdigit():
        pk = int(pk)
    if pk not in tiers:
        raise EventError(NO_SUCH_TIER, field="tier")
    return tiers[pk]


# --- Registering ------------------------------------------------------------------------


@transaction.atomic
def register(
    *,
    event: Event,
    user: User,
    answers: Mapping[object, object] | None = None,
    tier: TicketTier | int | str | None = None,
) -> Registration:
    """Register him: a free seat confirms (free event) or is held while he pays (tiers);
    a full event puts him on its waitlist. His answers are stored per question.

    Checks, in order: verified, may see the event, it takes registrations, before
    its deadline, not registered already, the tier, the answers. Nothing is
    written when one fails.
    """
    if not user.is_authenticated or not user.is_verified:
        raise EventError(NOT_VERIFIED)
    if not selectors.can_see(user, event):
        raise EventError(NOT_VISIBLE)
    chosen = _clean_tier(event, tier)
    cleaned = clean_answers(event, answers)
    event = _lock(event)
    now = timezone.now()
    if event.status not in Event.REGISTERING:
        raise EventError(NOT_OPEN)
    if now >= event.closes_at:
        raise EventError(CLOSED)
    if event.registrations.live().filter(user=user).exists():
        raise EventError(ALREADY_REGISTERED)
    # Nobody jumps the queue: free seats go to the men waiting first.
    _offers_lapse(event, now)
    _offer_free_seats(event, now)
    registration = Registration(event=event, user=user, tier=chosen, created_at=now)
    if chosen is not None:
        registration.amount_cents = chosen.amount_cents
        registration.payment = Registration.Payment.PENDING
    if seats_taken(event) >= event.capacity:
        registration.status = Registration.Status.WAITLISTED
    elif chosen is not None:
        registration.status = Registration.Status.HELD
        registration.hold_expires_at = now + timedelta(minutes=HOLD_MINUTES)
    else:
        registration.status = Registration.Status.CONFIRMED
    registration.save()
    Answer.objects.bulk_create(
        Answer(registration=registration, question=question, value=value)
        for question, value in cleaned.items()
    )
    sync_status(event)
    if registration.status == Registration.Status.CONFIRMED:
        _announce(signals.registration_confirmed, registration)
    elif registration.status == Registration.Status.WAITLISTED:
        _announce(signals.registration_waitlisted, registration)
    return registration


def outcome_message(registration: Registration) -> str:
    """What a page or the API says after registering."""
    if registration.status == Registration.Status.WAITLISTED:
        return WAITLISTED
    if registration.status == Registration.Status.HELD:
        return HELD.format(minutes=HOLD_MINUTES)
    return REGISTERED


@transaction.atomic
def cancel(*, registration: Registration) -> Registration:
    """He cancels (a seat, a hold, a waitlist place or an offer) until the deadline.

    A seat he held is offered to the first man waiting. Refunds for a paid
    seat are the payment flow's (it listens to `registration_cancelled`).
    """
    event = _lock(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.status == Registration.Status.CANCELLED:
        raise EventError(NOT_CANCELLABLE)
    if timezone.now() >= event.closes_at:
        raise EventError(TOO_LATE_TO_CANCEL)
    _cancel(registration)
    seat_offer_next(event=event)
    return registration


def _cancel(registration: Registration) -> None:
    registration.status = Registration.Status.CANCELLED
    registration.cancelled_at = timezone.now()
    registration.offer_expires_at = None
    registration.save(update_fields=["status", "cancelled_at", "offer_expires_at"])
    _announce(signals.registration_cancelled, registration)


# --- Seat offers ------------------------------------------------------------------------


@transaction.atomic
def seat_offer_next(*, event: Event) -> list[Registration]:
    """Offer each free seat to the next man on the waitlist; returns who was offered one.

    Offers that ran out go to the back of the waitlist first (as
    `offers_expire` does). Locks the event itself: a caller holding the lock
    loses nothing. An event no longer registering (cancelled, finished, draft)
    or already past its deadline offers none. Also what the payment flow calls
    when a hold lapses.
    """
    event = _lock(event)
    now = timezone.now()
    _offers_lapse(event, now)
    offered = _offer_free_seats(event, now)
    sync_status(event)
    return offered


def _offer_free_seats(event: Event, now: datetime) -> list[Registration]:
    """Offer the free seats to the first men waiting (event locked)."""
    if event.status not in Event.REGISTERING or now >= event.closes_at:
        return []
    free = event.capacity - seats_taken(event)
    if free <= 0:
        return []
    offered = []
    # An offer never outlives the time to register.
    expires = min(now + timedelta(hours=OFFER_HOURS), event.closes_at)
    for registration in event.registrations.waitlist().select_related("user")[:free]:
        registration.status = Registration.Status.OFFERED
        registration.offer_expires_at = expires
        registration.save(update_fields=["status", "offer_expires_at"])
        registration.event = event
        _announce(signals.seat_offered, registration)
        offered.append(registration)
    return offered


def _offers_lapse(event: Event, now: datetime) -> int:
    """Move the event's run-out offers to the back of its waitlist (event locked)."""
    lapsed = event.registrations.filter(
        status=Registration.Status.OFFERED, offer_expires_at__lte=now
    ).update(status=Registration.Status.WAITLISTED, offer_expires_at=None, created_at=now)
    if lapsed:
        # update() sends no signal: the men's dashboards forget their offers here.
        event_dashboard.bump_all()
    return lapsed


@transaction.atomic
def accept_offer(*, registration: Registration) -> Registration:
    """He takes the seat offered: confirmed on a free event, held while he pays on a paid one."""
    event = _lock(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.has_offer or event.status not in Event.REGISTERING:
        raise EventError(NO_OFFER)
    now = timezone.now()
    registration.offer_expires_at = None
    if registration.tier_id is not None and registration.payment == Registration.Payment.PENDING:
        registration.status = Registration.Status.HELD
        registration.hold_expires_at = now + timedelta(minutes=HOLD_MINUTES)
    else:
        registration.status = Registration.Status.CONFIRMED
    registration.save(update_fields=["status", "offer_expires_at", "hold_expires_at"])
    if registration.status == Registration.Status.CONFIRMED:
        _announce(signals.registration_confirmed, registration)
    return registration


@transaction.atomic
def decline_offer(*, registration: Registration) -> Registration:
    """He gives the seat offered up (and his waitlist place): the next man is offered it."""
    event = _lock(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.has_offer:
        raise EventError(NO_OFFER)
    _cancel(registration)
    seat_offer_next(event=event)
    return registration


def offers_expire() -> int:
    """Move lapsed offers to the back of their waitlists and offer the seats on.

    Returns how many offers lapsed. Safe to run from several hosts at once
    (each event's work is done under its row lock).
    """
    now = timezone.now()
    event_ids = (
        Registration.objects.filter(status=Registration.Status.OFFERED, offer_expires_at__lte=now)
        .values_list("event_id", flat=True)
        .distinct()
    )
    expired = 0
    for event_id in list(event_ids):
        with transaction.atomic():
            event = Event.objects.select_for_update().get(pk=event_id)
            expired += _offers_lapse(event, now)
            _offer_free_seats(event, now)
            sync_status(event)
    return expired
