"""Circle factories and personas shared by the circles tests."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Circle, Meeting, Membership
from tests.conftest import make_user

_counter = iter(range(1, 10_000))


def make_circle(**fields: object) -> Circle:
    n = next(_counter)
    defaults: dict[str, object] = {
        "name": f"Circle {n}",
        "slug": f"circle-{n}",
        "status": Circle.Status.OPEN,
        "weekday": 1,
        "start_time": time(19, 0),
        "time_zone": "America/New_York",
        "public_area": "Park Slope, Brooklyn",
        "private_address": "221B Secret Street, Apt 4",
        "video_link": "https://video.example.com/secret-room",
        "capacity": 10,
    }
    defaults.update(fields)
    return Circle.objects.create(**defaults)


def make_verified(email: str, **extra: object) -> User:
    """A man who proved his email address, and his mobile number if he has one."""
    user = make_user(email, **extra)
    user.email_verified_at = timezone.now()
    user.phone_verified_at = user.email_verified_at if user.phone else None
    user.save(update_fields=["email_verified_at", "phone_verified_at"])
    return user


def join(user: User, circle: Circle, role: str = Membership.Role.MEMBER, **fields) -> Membership:
    """An active membership, as if approved long ago."""
    now = timezone.now()
    return Membership.objects.create(
        circle=circle,
        user=user,
        role=role,
        status=Membership.Status.ACTIVE,
        requested_at=now - timedelta(days=30),
        joined_at=now - timedelta(days=29),
        **fields,
    )


def make_meeting(circle: Circle, *, in_days: float = 3, **fields: object) -> Meeting:
    starts = timezone.now() + timedelta(days=in_days)
    return Meeting.objects.create(
        circle=circle, starts_at=starts, ends_at=starts + timedelta(minutes=90), **fields
    )


def make_facilitator(email: str, circle: Circle) -> User:
    user = make_verified(email, full_name="Fred Facilitator", is_staff=True)
    group, _ = Group.objects.get_or_create(name="Facilitators")
    user.groups.add(group)
    join(user, circle, role=Membership.Role.FACILITATOR)
    return user


@pytest.fixture
def circle(db: None) -> Circle:
    circle = make_circle(name="Brooklyn Tuesday", slug="brooklyn-tuesday")
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    return circle


@pytest.fixture
def facilitator(circle: Circle) -> User:
    return make_facilitator("fred@example.com", circle)


@pytest.fixture
def circle_member(circle: Circle) -> User:
    """An active, verified member of `circle` who accepted its agreements."""
    # Emails differ from tests/conftest.py's personas so both can be used together.
    user = make_verified("ben@example.com", full_name="Ben Member", phone="+14155550123")
    join(user, circle)
    services.agreement_accept(user=user, circle=circle, version=1)
    return user


@pytest.fixture
def other_member(circle: Circle) -> User:
    """A member of another circle: an outsider to `circle`."""
    other = make_circle(name="Other Circle", slug="other-circle")
    user = make_verified("oscar@example.com", full_name="Oscar Other")
    join(user, other)
    return user
