"""The free-place admin actions, as the registrations admin runs them."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.test import RequestFactory

from events import payments, services
from events.models import Event, Registration, TicketTier
from events.payment_admin import approve_free_place, decline_free_place
from tests.circles.conftest import make_verified
from tests.conftest import committed
from tests.events.conftest import make_event, make_organiser

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def retreat(db: None) -> Event:
    event = make_event(title="Weekend retreat", capacity=1)
    TicketTier.objects.create(event=event, name="Standard", amount_cents=15000)
    return event


def _request(event: Event):
    request = RequestFactory().post("/admin/events/registration/")
    request.user = make_organiser("olly@example.com", event)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _asked(event: Event, email: str) -> Registration:
    registration = services.register(event=event, user=make_verified(email), tier=event.tiers.get())
    return payments.free_place_request(registration=registration, reason="Between jobs.")


def test_granting_confirms_the_men_who_asked_and_leaves_others(retreat: Event) -> None:
    asked = _asked(retreat, "dan@example.com")
    waiting = services.register(
        event=retreat, user=make_verified("eli@example.com"), tier=retreat.tiers.get()
    )
    request = _request(retreat)

    with committed():
        approve_free_place(None, request, Registration.objects.filter(event=retreat))

    asked.refresh_from_db()
    assert (asked.status, asked.payment) == ("confirmed", "free_place")
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED
    said = [str(m) for m in get_messages(request)]
    assert said == [
        "1 free places granted.",
        "1 registrations were not waiting for a free-place decision.",
    ]


def test_declining_passes_the_seat_to_the_waitlist(retreat: Event) -> None:
    asked = _asked(retreat, "dan@example.com")
    waiting = services.register(
        event=retreat, user=make_verified("eli@example.com"), tier=retreat.tiers.get()
    )

    with committed():
        decline_free_place(None, _request(retreat), Registration.objects.filter(pk=asked.pk))

    asked.refresh_from_db()
    assert asked.status == Registration.Status.CANCELLED
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.OFFERED
