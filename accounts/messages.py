"""The messages accounts sends (registered with notifications at start-up).

Verification and reset carry a link that proves the mailbox: it is minted
when the email is delivered and never stored (see notifications.kinds). The
two-factor notice carries no secret.
"""

from __future__ import annotations

from accounts.services import password_reset_url, verification_url
from notifications.kinds import MessageKind

KINDS = [
    MessageKind(
        name="verify_email",
        preference=None,
        minted={"url": lambda row: verification_url(row.user)},
        description="The link that verifies a member's email address",
    ),
    MessageKind(
        name="password_reset",
        preference=None,
        minted={"url": lambda row: password_reset_url(row.user)},
        description="The link to choose a new password",
    ),
    MessageKind(
        name="two_factor_notice",
        preference=None,
        description="Two-factor sign-in turned on or off, reset by an operator, or failing",
    ),
]
