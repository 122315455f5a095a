"""What accounts tells the apps above it (which it must not import).

`email_first_proven` is sent, inside the transaction that records it, when an
account's mailbox is proven for the first time (its verification link, or a
completed password reset). Whatever an app let the account set up before
that proof may belong to someone who only typed the address: the receiver
revokes it. One receiver per app, each calling one service: circles drops the
member's calendar feed.
"""

from __future__ import annotations

from django.dispatch import Signal

email_first_proven = Signal()  # keyword argument: user
