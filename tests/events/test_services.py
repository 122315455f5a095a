"""Registering, cancelling, the waitlist and its seat offers (events.services)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from circles.models import Membership
from circles.services import OFFER_HOURS
from events import services, signals
from events.models import Answer, Event, Question, Registration
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import make_user
from tests.events.conftest import add_question, add_tier, make_event

pytestmark = pytest.mark.django_db(databases="__all__")

S = Registration.Status
_n = iter(range(1, 10_000))


def man(**extra) -> object:
    return make_verified(f"man{next(_n)}@example.com", **extra)


def register(event: Event, user=None, **kwargs) -> Registration:
    return services.register(event=event, user=user or man(), **kwargs)


def reload(registration: Registration) -> Registration:
    registration.refresh_from_db()
    return registration


class Heard:
    """What events.signals announced (on commit), by signal name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._receivers = []
        for name in (
            "registration_confirmed",
            "registration_waitlisted",
            "seat_offered",
            "registration_cancelled",
        ):

            def receiver(sender, registration, _name=name, **kwargs) -> None:
                self.calls.append((_name, registration.pk))

            getattr(signals, name).connect(receiver, weak=False)
            self._receivers.append((name, receiver))

    def close(self) -> None:
        for name, receiver in self._receivers:
            getattr(signals, name).disconnect(receiver)


@pytest.fixture
def heard():
    listener = Heard()
    yield listener
    listener.close()


# --- Registering ------------------------------------------------------------------------


def test_a_free_event_confirms_him_and_keeps_his_answers(
    django_capture_on_commit_callbacks, heard
) -> None:
    event = make_event(capacity=2)
    diet = add_question(event, "Dietary needs", required=True)
    contact = add_question(event, "Emergency contact", kind=Question.Kind.EMERGENCY_CONTACT)

    with django_capture_on_commit_callbacks(execute=True):
        registration = register(event, answers={str(diet.pk): " Vegetarian ", contact.pk: ""})

    assert (registration.status, registration.payment) == (S.CONFIRMED, "free")
    assert list(Answer.objects.values_list("question__label", "value")) == [
        ("Dietary needs", "Vegetarian")
    ]
    assert heard.calls == [("registration_confirmed", registration.pk)]
    event.refresh_from_db()
    assert event.status == Event.Status.OPEN


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({}, "answers.{diet}", "Please answer: Dietary needs"),
        ({"{diet}": "   "}, "answers.{diet}", "Please answer: Dietary needs"),
        ({"{diet}": "x" * 1001}, "answers.{diet}", services.ANSWER_TOO_LONG),
        ({"{diet}": 7}, "answers.{diet}", services.NOT_AN_ANSWER),
        ({"{diet}": "ok", "999999": "?"}, "answers.999999", services.NO_SUCH_QUESTION),
        ({"{diet}": "ok", "abc": "?"}, "answers.abc", services.NO_SUCH_QUESTION),
        (["not", "a", "dict"], "answers", services.NOT_AN_ANSWER),
    ],
)
def test_bad_answers_are_refused_naming_the_field_and_change_nothing(
    answers, field: str, message: str
) -> None:
    event = make_event()
    diet = add_question(event, "Dietary needs", required=True)
    if isinstance(answers, dict):
        answers = {k.format(diet=diet.pk): v for k, v in answers.items()}

    with pytest.raises(services.EventError) as refused:
        register(event, answers=answers)

    assert (refused.value.field, refused.value.message) == (field.format(diet=diet.pk), message)
    assert not Registration.objects.exists()


def test_an_unverified_man_cannot_register() -> None:
    event = make_event()
    with pytest.raises(services.EventError, match="verify your email"):
        register(event, make_user("new@example.com"))
    assert not Registration.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": Event.Status.DRAFT}, services.NOT_VISIBLE),
        ({"status": Event.Status.CANCELLED}, services.NOT_OPEN),
        ({"status": Event.Status.FINISHED}, services.NOT_OPEN),
        ({"registration_deadline": timezone.now() - timedelta(minutes=1)}, services.CLOSED),
    ],
)
def test_only_an_open_event_before_its_deadline_takes_registrations(fields, message) -> None:
    event = make_event(**fields)
    with pytest.raises(services.EventError) as refused:
        register(event)
    assert refused.value.message == message


def test_a_circle_event_takes_only_that_circles_members() -> None:
    circle = make_circle()
    event = make_event(visibility=Event.Visibility.CIRCLE, circle=circle)
    insider = man()
    join(insider, circle)
    with pytest.raises(services.EventError, match="not open to you"):
        register(event)  # an outsider

    assert register(event, insider).status == S.CONFIRMED


def test_he_registers_once_and_again_after_cancelling() -> None:
    event = make_event()
    him = man()
    first = register(event, him)
    with pytest.raises(services.EventError, match="already registered"):
        register(event, him)

    services.cancel(registration=first)
    again = register(event, him)

    assert again.pk != first.pk and again.status == S.CONFIRMED


def test_a_full_event_puts_him_on_the_waitlist_and_says_it_is_full(
    django_capture_on_commit_callbacks, heard
) -> None:
    event = make_event(capacity=1)
    register(event)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = register(event)

    assert waiting.status == S.WAITLISTED
    assert heard.calls == [("registration_waitlisted", waiting.pk)]
    event.refresh_from_db()
    assert event.status == Event.Status.FULL
    assert services.outcome_message(waiting) == services.WAITLISTED


def test_a_paid_event_holds_his_seat_while_he_pays() -> None:
    event = make_event()
    add_tier(event, "Supported", 5000, position=0)
    standard = add_tier(event, "Standard", 15000, position=1)

    registration = register(event, tier=standard.pk)

    assert registration.status == S.HELD
    assert (registration.payment, registration.amount_cents) == ("pending", 15000)
    assert registration.tier == standard
    left = registration.hold_expires_at - timezone.now()
    assert (
        timedelta(minutes=services.HOLD_MINUTES - 1)
        < left
        <= timedelta(minutes=services.HOLD_MINUTES)
    )
    assert services.seats_taken(event) == 1


@pytest.mark.parametrize(
    ("tiers", "tier", "message"),
    [
        (True, None, services.CHOOSE_TIER),
        (True, 999999, services.NO_SUCH_TIER),
        (True, "abc", services.NO_SUCH_TIER),
        (False, 1, services.NO_TICKETS),
    ],
)
def test_a_bad_ticket_is_refused_naming_the_field(tiers: bool, tier, message: str) -> None:
    event = make_event()
    if tiers:
        add_tier(event)
    with pytest.raises(services.EventError) as refused:
        register(event, tier=tier)
    assert (refused.value.field, refused.value.message) == ("tier", message)
    assert not Registration.objects.exists()


def test_another_events_ticket_is_not_one_of_this_events() -> None:
    event, other = make_event(), make_event()
    add_tier(event)
    with pytest.raises(services.EventError, match="one of this event's tickets"):
        register(event, tier=add_tier(other).pk)


# --- Cancelling and the waitlist --------------------------------------------------------


def test_cancelling_offers_his_seat_to_the_first_man_waiting_for_72_hours(
    django_capture_on_commit_callbacks, heard
) -> None:
    event = make_event(capacity=1)
    seated = register(event)
    first, second = register(event), register(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(registration=seated)

    assert reload(seated).status == S.CANCELLED and seated.cancelled_at
    assert reload(first).status == S.OFFERED
    assert reload(second).status == S.WAITLISTED
    left = first.offer_expires_at - timezone.now()
    assert timedelta(hours=OFFER_HOURS - 1) < left <= timedelta(hours=OFFER_HOURS)
    assert heard.calls == [("registration_cancelled", seated.pk), ("seat_offered", first.pk)]
    event.refresh_from_db()
    assert event.status == Event.Status.FULL  # the offer holds the seat


def test_an_offer_never_outlives_the_deadline() -> None:
    deadline = timezone.now() + timedelta(hours=5)
    event = make_event(capacity=1, registration_deadline=deadline)
    seated, waiting = register(event), register(event)

    services.cancel(registration=seated)

    assert reload(waiting).offer_expires_at == deadline


def test_a_newcomer_waits_behind_a_man_with_an_offer() -> None:
    event = make_event(capacity=1)
    seated = register(event)
    waiting = register(event)
    services.cancel(registration=seated)

    newcomer = register(event)

    assert (reload(waiting).status, newcomer.status) == (S.OFFERED, S.WAITLISTED)


def test_accepting_an_offer_confirms_him_on_a_free_event(
    django_capture_on_commit_callbacks, heard
) -> None:
    event = make_event(capacity=1)
    seated, waiting = register(event), register(event)
    services.cancel(registration=seated)
    heard.calls.clear()

    with django_capture_on_commit_callbacks(execute=True):
        accepted = services.accept_offer(registration=waiting)

    assert (accepted.status, accepted.offer_expires_at) == (S.CONFIRMED, None)
    assert heard.calls == [("registration_confirmed", waiting.pk)]


def test_accepting_an_offer_on_a_paid_event_holds_the_seat_while_he_pays() -> None:
    event = make_event(capacity=1)
    tier = add_tier(event)
    seated = register(event, tier=tier.pk)
    waiting = register(event, tier=tier.pk)
    assert (waiting.status, waiting.payment) == (S.WAITLISTED, "pending")
    services.cancel(registration=seated)

    accepted = services.accept_offer(registration=reload(waiting))

    assert accepted.status == S.HELD and accepted.hold_expires_at > timezone.now()


def test_declining_passes_the_seat_to_the_next_man() -> None:
    event = make_event(capacity=1)
    seated, first, second = register(event), register(event), register(event)
    services.cancel(registration=seated)

    services.decline_offer(registration=reload(first))

    assert (reload(first).status, reload(second).status) == (S.CANCELLED, S.OFFERED)


def test_no_offer_no_answer() -> None:
    event = make_event(capacity=1)
    register(event)
    waiting = register(event)
    for answer in (services.accept_offer, services.decline_offer):
        with pytest.raises(services.EventError, match="no seat offer"):
            answer(registration=waiting)


def test_a_lapsed_offer_goes_to_the_back_and_the_next_man_is_offered_the_seat(
    django_capture_on_commit_callbacks,
) -> None:
    event = make_event(capacity=1)
    seated, first, second = register(event), register(event), register(event)
    services.cancel(registration=seated)
    Registration.objects.filter(pk=first.pk).update(
        offer_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(services.EventError, match="no seat offer"):
        services.accept_offer(registration=reload(first))

    call_command("expire_event_offers", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("expire_event_offers", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert (reload(first).status, reload(second).status) == (S.WAITLISTED, S.OFFERED)
    assert first.offer_expires_at is None
    assert services.seats_taken(event) == 1


def test_cancelling_closes_with_registration() -> None:
    event = make_event()
    registration = register(event)
    Event.objects.filter(pk=event.pk).update(registration_deadline=timezone.now())

    with pytest.raises(services.EventError, match="Cancelling closed"):
        services.cancel(registration=registration)

    assert reload(registration).status == S.CONFIRMED


def test_a_cancelled_event_offers_no_seat() -> None:
    event = make_event(capacity=1)
    seated, waiting = register(event), register(event)
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)

    services.cancel(registration=seated)

    assert reload(waiting).status == S.WAITLISTED


def test_a_freed_seat_reopens_the_event_when_nobody_waits() -> None:
    event = make_event(capacity=1)
    seated = register(event)
    event.refresh_from_db()
    assert event.status == Event.Status.FULL

    services.cancel(registration=seated)

    event.refresh_from_db()
    assert event.status == Event.Status.OPEN


def test_paused_members_see_their_circles_events_too() -> None:
    circle = make_circle()
    event = make_event(visibility=Event.Visibility.CIRCLE, circle=circle)
    paused = man()
    join(paused, circle)
    Membership.objects.filter(user=paused).update(status=Membership.Status.PAUSED)

    assert register(event, paused).status == S.CONFIRMED
