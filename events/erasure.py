"""What deleting an account does in events (registered with accounts.personal_data).

His registrations and his answers to the organisers' questions (dietary
needs, an emergency contact: sensitive) are deleted outright, inside the
deletion's transaction, not left to the user row's cascade; the messages
about them go with his user row. A seat he held is offered to the first man
on that event's waitlist (events.services.seat_offer_next), as when anyone
cancels. No refund is started for a paid seat: his registration is gone, not
cancelled (the README says to cancel first, or write to the organisers).
"""

from __future__ import annotations

from collections.abc import Collection

from accounts import personal_data
from accounts.models import User
from events import services
from events.models import Answer, Event, Registration


def erase(user: User) -> None:
    """Delete his answers, then his registrations; offer the seats he held to those waiting."""
    held = list(
        Registration.objects.filter(user=user, status__in=Registration.SEAT_STATUSES)
        .values_list("event_id", flat=True)
        .distinct()
    )
    Answer.objects.filter(registration__user=user).delete()
    Registration.objects.filter(user=user).delete()
    for event in Event.objects.filter(pk__in=held).order_by("pk"):
        services.seat_offer_next(event=event)


def holds(user_ids: Collection[int]) -> set[int]:
    """Accounts registered for any event (even waitlisted): not purged as stale sign-ups."""
    return set(Registration.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))


def register() -> None:
    personal_data.eraser("events", erase=erase, holds=holds)
