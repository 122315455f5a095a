"""Messages that follow what events.services did (events.signals, sent after commit).

Each receiver calls one function of events.messages; the notification log's
unique key makes each message go once however often a signal fires.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from events import messages, signals


@receiver(signals.registration_confirmed, dispatch_uid="events.messages.confirmed")
def _confirmed(sender: Any, registration: Any, **kwargs: Any) -> None:
    messages.confirmed(registration)


@receiver(signals.seat_offered, dispatch_uid="events.messages.offered")
def _offered(sender: Any, registration: Any, **kwargs: Any) -> None:
    messages.offered(registration)
