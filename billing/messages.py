"""The messages billing sends (registered with notifications at start-up)."""

from __future__ import annotations

from notifications.kinds import MessageKind

KINDS = [
    # About his own account, like the account emails: whatever his settings.
    MessageKind(
        name="dues_past_due",
        preference=None,
        description="A dues payment failed; how to pay",
    ),
]
