"""One-off payments (Checkout in payment mode), handed to the app that asked for them.

Billing knows no app above it: an app registers the `purpose` it writes into a
session's metadata (billing.stripe_gateway.payment_checkout), with what to do
when such a session is paid or expires. billing.receivers calls `completed` /
`expired` with the session of a verified webhook that dj-stripe has just
stored, inside dj-stripe's transaction: an event Stripe sends again is not
processed again, and a handler that raises (TransportError: Stripe down)
keeps nothing, so Stripe sends the event again later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Session = dict[str, Any]


@dataclass(frozen=True)
class Purpose:
    paid: Callable[[Session], None]
    expired: Callable[[Session], None] | None = None


_purposes: dict[str, Purpose] = {}


def register(
    purpose: str,
    *,
    paid: Callable[[Session], None],
    expired: Callable[[Session], None] | None = None,
) -> None:
    """What to do with this `purpose`'s sessions (called from an AppConfig.ready())."""
    _purposes[purpose] = Purpose(paid=paid, expired=expired)


def _purpose(session: Session) -> Purpose | None:
    if session.get("mode") != "payment":
        return None  # dues (subscription mode) are dj-stripe's own models
    metadata = session.get("metadata") or {}
    return _purposes.get(metadata.get("purpose", ""))


def completed(session: Session) -> None:
    """A session was completed; paid unless its payment method is a slow one."""
    purpose = _purpose(session)
    if purpose is not None and session.get("payment_status") == "paid":
        purpose.paid(session)


def expired(session: Session) -> None:
    purpose = _purpose(session)
    if purpose is not None and purpose.expired is not None:
        purpose.expired(session)
