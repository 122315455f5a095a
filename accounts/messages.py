"""The messages accounts sends (registered with notifications at start-up).

Verification, reset, invitation and email-change emails carry a link that
proves the mailbox, and the phone code text carries the code that proves the
number: each is minted when the message is delivered and never stored (see
notifications.kinds). The others (two-factor notices included) carry no
secret. The email-change link and the notice to the old address go to an
address fixed when they are queued (`to_email`), not to the member's.
"""

from __future__ import annotations

from accounts.phones import code_for_message
from accounts.services import (
    email_change_url,
    invitation_url,
    password_reset_url,
    verification_url,
)
from notifications.kinds import SMS, MessageKind

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
        name="account_invitation",
        preference=None,
        minted={"url": lambda row: invitation_url(row.user)},
        description="Staff made him an account: the link to set his password (and verify)",
    ),
    MessageKind(
        name="email_change",
        preference=None,
        minted={"url": email_change_url},
        description="The link, sent to a new address, that moves a member's account to it",
    ),
    MessageKind(
        name="email_changed",
        preference=None,
        description="To the old address: the account's address was changed",
    ),
    MessageKind(
        name="email_change_attempt",
        preference=None,
        description=(
            "Someone asked to move another account to an address that has one (once a day)"
        ),
    ),
    MessageKind(
        name="sign_in_paused",
        preference=None,
        description="Too many wrong passwords: sign-in is paused for a while (once a day)",
    ),
    MessageKind(
        name="phone_code",
        preference=None,
        channels=(SMS,),
        proves_phone=True,
        minted={"code": code_for_message},
        description="The code that verifies a member's mobile number",
    ),
    MessageKind(
        name="phone_taken",
        preference=None,
        description="His verified mobile number was proved by another account",
    ),
    MessageKind(
        name="sign_up_attempt",
        preference=None,
        description="Someone tried to sign up with an address that has an account (once a day)",
    ),
    MessageKind(
        name="email_retired",
        preference=None,
        description=(
            "An account closed because its address clashed with another's "
            "(queued by the migration that introduced canonical addresses)"
        ),
    ),
    MessageKind(
        name="two_factor_notice",
        preference=None,
        description="Two-factor sign-in turned on or off, reset by an operator, or failing",
    ),
]
