"""The one error type every vendor boundary raises (email, SMS)."""

from __future__ import annotations


class TransportError(Exception):
    """A message the vendor did not take.

    `permanent` is True when sending the same message again will fail again
    (an invalid number, a rejected address, bad credentials); False when a
    later try may work (a timeout, a 5xx, a rate limit).
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
