"""Event factories and personas shared by the events tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from events.groups import GROUP as ORGANISERS
from events.models import Event, Question, Registration, TicketTier
from tests.circles.conftest import make_circle, make_facilitator, make_verified
from tests.conftest import make_user

_counter = iter(range(1, 10_000))


def make_event(**fields: object) -> Event:
    """An open public event a week from now, in New York time, with 10 seats."""
    n = next(_counter)
    starts = timezone.now() + timedelta(days=7)
    defaults: dict[str, object] = {
        "title": f"Open evening {n}",
        "description": "An evening for men curious about joining a circle.",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=3),
        "time_zone": "America/New_York",
        "public_area": "Park Slope, Brooklyn",
        "address": "221B Secret Street, Apt 4",
        "joining_details": "Ring twice; the door code is 4711.",
        "capacity": 10,
        "visibility": Event.Visibility.PUBLIC,
        "status": Event.Status.OPEN,
    }
    defaults.update(fields)
    return Event.objects.create(**defaults)


def add_tier(
    event: Event, name: str = "Standard", amount_cents: int = 15000, **fields
) -> TicketTier:
    return TicketTier.objects.create(
        event=event, name=name, amount_cents=amount_cents, stripe_price_id=f"price_{name}", **fields
    )


def add_question(event: Event, label: str = "Dietary needs", **fields) -> Question:
    fields.setdefault("kind", Question.Kind.DIETARY)
    return Question.objects.create(event=event, label=label, **fields)


def register_directly(event: Event, user: User, **fields) -> Registration:
    """A confirmed registration made without the services (for setting the scene)."""
    return Registration.objects.create(event=event, user=user, **fields)


def make_organiser(email: str, event: Event | None = None) -> User:
    """Staff in the "Organisers" group, organising `event` if given."""
    user = make_verified(email, full_name="Olly Organiser", is_staff=True)
    user.groups.add(Group.objects.get(name=ORGANISERS))
    if event is not None:
        event.organisers.add(user)
    return user


@pytest.fixture
def event(db: None) -> Event:
    return make_event(title="Open evening in Brooklyn")


@dataclass
class People:
    """The personas every page and endpoint is tested by."""

    member: User  # verified, signed in, not registered
    registered: User  # confirmed on the event
    organiser: User  # named on the event, staff in "Organisers"
    other_facilitator: User  # staff, facilitates another circle
    unverified: User


@pytest.fixture
def people(event: Event) -> People:
    other_circle = make_circle(name="Queens Monday", slug="queens-monday")
    registered = make_verified("reg@example.com", full_name="Rex Registered")
    register_directly(event, registered)
    return People(
        member=make_verified("mem@example.com", full_name="Max Member"),
        registered=registered,
        organiser=make_organiser("org@example.com", event),
        other_facilitator=make_facilitator("fac@example.com", other_circle),
        unverified=make_user("unv@example.com", full_name="Uno Unverified"),
    )
