"""What happens to a registration, for the parts of events that act on it.

events.services sends these after the change is committed (transaction.on_commit),
so a receiver sees the saved rows and a rolled-back change sends nothing.
Messages (events.messages) connect here; each receiver gets `registration`.
"""

from __future__ import annotations

from django.dispatch import Signal

# He has a seat: free registration, accepted offer, or payment verified.
registration_confirmed = Signal()  # keyword argument: registration
# The event is full: he is on its waitlist.
registration_waitlisted = Signal()  # keyword argument: registration
# A seat came free and is offered to him until registration.offer_expires_at.
seat_offered = Signal()  # keyword argument: registration
# He (or the organiser) cancelled his registration.
registration_cancelled = Signal()  # keyword argument: registration
