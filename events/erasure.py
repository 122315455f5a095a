"""What deleting an account does in events (registered with accounts.personal_data).

His registrations and his answers to the organisers' questions (dietary
needs, an emergency contact: sensitive) are deleted outright, inside the
deletion's transaction, not left to the user row's cascade; the messages
about them go with his user row. The event's seat counts follow at once
(seats are counted from the registrations).
"""

from __future__ import annotations

from collections.abc import Collection

from accounts import personal_data
from accounts.models import User
from events.models import Answer, Registration


def erase(user: User) -> None:
    """Delete his answers, then his registrations."""
    Answer.objects.filter(registration__user=user).delete()
    Registration.objects.filter(user=user).delete()


def holds(user_ids: Collection[int]) -> set[int]:
    """Accounts registered for any event (even waitlisted): not purged as stale sign-ups."""
    return set(Registration.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))


def register() -> None:
    personal_data.eraser("events", erase=erase, holds=holds)
