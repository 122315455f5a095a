"""seed_demo's events: a free open evening and a paid weekend retreat, full, with a waitlist,
made once however often it runs, with the demo's logins unchanged."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from accounts.models import User
from demo.management.commands.seed_demo import (
    DEMO_ADMIN,
    DEMO_FACILITATOR,
    DEMO_MEMBER,
    DEMO_PASSWORD,
)
from events.groups import GROUP as ORGANISERS
from events.models import Answer, Event, Question, Registration, TicketTier
from tests.conftest import force_signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

EVENT_MODELS = [Event, TicketTier, Question, Registration, Answer]
EVENING, RETREAT = "open-evening-san-francisco", "weekend-retreat-redwoods"


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in EVENT_MODELS}


@pytest.fixture
def debug(settings) -> None:
    settings.DEBUG = True


def test_seeding_twice_makes_the_events_once(debug: None) -> None:
    first_output = seed()
    first = counts()
    rows = list(Registration.objects.values_list("pk", "event_id", "user_id", "status"))

    output = seed()

    assert "Demo events ready (2 created)" in first_output
    assert "Demo events ready (0 created)" in output
    assert counts() == first
    assert first["Event"] == 2
    assert list(Registration.objects.values_list("pk", "event_id", "user_id", "status")) == rows


def test_an_organisers_change_survives_a_second_seed(debug: None) -> None:
    seed()
    Event.objects.filter(slug=EVENING).update(title="Open evening, moved upstairs")
    Registration.objects.filter(event__slug=EVENING, user__email=DEMO_MEMBER).delete()

    seed()

    assert Event.objects.get(slug=EVENING).title == "Open evening, moved upstairs"
    assert not Registration.objects.filter(event__slug=EVENING, user__email=DEMO_MEMBER).exists()


def test_the_open_evening_is_free_public_open_and_has_men_coming(debug: None) -> None:
    seed()

    evening = Event.objects.with_seats_taken().get(slug=EVENING)
    assert evening.is_free and not evening.questions.exists()
    assert evening.visibility == Event.Visibility.PUBLIC
    assert evening.status == Event.Status.OPEN
    assert evening.starts_at > timezone.now() and evening.ends_at > evening.starts_at
    assert evening.local_starts_at().hour == 19  # 7 pm where it is, whatever the server's zone
    assert 0 < evening.seats_taken < evening.capacity
    registrations = evening.registrations.all()
    assert {r.status for r in registrations} == {Registration.Status.CONFIRMED}
    assert {r.payment for r in registrations} == {Registration.Payment.FREE}
    assert evening.address and evening.joining_details and evening.public_area


def test_the_retreat_is_paid_on_a_sliding_scale_full_and_has_a_waitlist(debug: None) -> None:
    seed()

    retreat = Event.objects.with_seats_taken().get(slug=RETREAT)
    assert retreat.status == Event.Status.FULL
    assert retreat.visibility == Event.Visibility.MEMBERS
    assert retreat.seats_taken == retreat.capacity  # full, never over
    tiers = list(retreat.tiers.values_list("name", "amount_cents"))
    assert [name for name, _ in tiers] == ["Supported", "Standard", "Sponsor"]
    assert [cents for _, cents in tiers] == sorted(cents for _, cents in tiers)
    assert retreat.ends_at - retreat.starts_at > timedelta(days=1)  # a weekend
    assert retreat.registration_deadline < retreat.starts_at
    assert {q.kind for q in retreat.questions.all()} == {"dietary", "emergency_contact"}

    confirmed = retreat.registrations.filter(status=Registration.Status.CONFIRMED)
    payments = set(confirmed.values_list("payment", flat=True))
    assert payments == {Registration.Payment.PAID, Registration.Payment.FREE_PLACE}
    for registration in confirmed.select_related("tier"):
        assert registration.tier is not None
        paid = registration.payment == Registration.Payment.PAID
        assert registration.amount_cents == (registration.tier.amount_cents if paid else 0)
        assert registration.answers.count() == 2
    waitlist = list(retreat.registrations.waitlist().select_related("tier"))
    assert len(waitlist) == 2
    for waiting in waitlist:  # as registering left him: his tier and answers, not paid yet
        assert waiting.payment == Registration.Payment.PENDING
        assert waiting.amount_cents == waiting.tier.amount_cents
        assert waiting.answers.count() == 2
    # Nobody both holds a seat and waits, and nobody is on a list twice.
    emails = list(retreat.registrations.values_list("user__email", flat=True))
    assert len(emails) == len(set(emails))


def test_the_demo_member_is_going_on_the_retreat_and_organisers_are_staff(debug: None) -> None:
    seed()

    mine = Registration.objects.filter(user__email=DEMO_MEMBER, status="confirmed")
    assert set(mine.values_list("event__slug", flat=True)) == {RETREAT}
    for event in Event.objects.all():
        organisers = list(event.organisers.all())
        assert organisers and all(user.is_staff for user in organisers)
        group = Group.objects.get(name=ORGANISERS).user_set.all()
        assert all(user in group or user.is_superuser for user in organisers)
    assert DEMO_FACILITATOR in Event.objects.get(slug=RETREAT).organisers.values_list(
        "email", flat=True
    )


def test_the_events_add_no_login_and_the_demo_logins_still_sign_in(debug: None) -> None:
    output = seed()

    assert User.objects.filter(Q(is_superuser=True) | Q(is_staff=True)).count() == 5
    assert output.count(DEMO_PASSWORD) == 1
    for email in (DEMO_ADMIN, DEMO_FACILITATOR, DEMO_MEMBER):
        response = Client().post("/accounts/login/", {"username": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email


def test_the_demo_member_finds_both_events_and_reads_the_retreats_address(debug: None) -> None:
    seed()
    daniel = force_signed_in(User.objects.get(email=DEMO_MEMBER))
    retreat = Event.objects.get(slug=RETREAT)

    listing = daniel.get("/events/").content.decode()
    assert "Open evening in San Francisco" in listing and retreat.title in listing
    page = daniel.get(f"/events/{RETREAT}/").content.decode()
    assert "You are registered (Standard)" in page
    assert "Redwood Hollow Retreat Center" in page
    anonymous = Client().get("/events/").content.decode()
    assert "Open evening in San Francisco" in anonymous and retreat.title not in anonymous
