"""The kinds of message the site sends, each declared by the app that sends it.

An app lists its kinds in its own `messages.py` and registers them from its
AppConfig.ready(); this app knows none of them by name. A kind says which
templates render it, which member preference governs it, on which channels it
may go and which of its values (a link that proves a mailbox, a one-time
code) are minted only when it is delivered.

Minting is how no working token rests in the main database: the row queued
in `default` holds a placeholder (``{link:url}``) where the secret goes, and
delivery asks the kind for a fresh value and puts it in the message it hands
to the vendor, never back in the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

EMAIL = "email"
SMS = "sms"
CHANNELS = (EMAIL, SMS)

# A function of the queued row (its .user, its .subject_key) that returns the
# secret value: an absolute URL built from SITE_URL, or a one-time code.
Minter = Callable[[Any], str]


@dataclass(frozen=True)
class MessageKind:
    """One kind of message.

    `preference` names the member setting that governs it ("reminders",
    "updates", "broadcasts": `User.wants(preference, channel)`); None marks an
    account message (verification, password reset, dues), which goes by email
    only and whatever the settings, even before the address is verified.
    `template` names templates/emails/<template>_{subject,body}.txt (+ optional
    _body.html) and templates/sms/<template>.txt; it defaults to the name.
    `at_most_once` kinds are never sent twice, at the cost of a rare miss (every
    text is at most once anyway). `minted` maps a template variable to the
    function that mints its value at delivery; a value that is a URL must be
    on SITE_URL.

    Texts go only to a number the member proved (`user.verified_phone`), but
    one: the text that proves it. A kind with `proves_phone` is that text, an
    account message by SMS only, sent to his number before it is verified.
    """

    name: str
    preference: str | None
    channels: tuple[str, ...] = (EMAIL,)
    template: str = ""
    at_most_once: bool = False
    minted: dict[str, Minter] = field(default_factory=dict)
    description: str = ""
    proves_phone: bool = False

    def __post_init__(self) -> None:
        if not self.template:
            object.__setattr__(self, "template", self.name)
        if not self.channels or not set(self.channels) <= set(CHANNELS):
            raise ValueError(f"{self.name}: channels must be some of {CHANNELS}")
        if self.proves_phone:
            if self.preference is not None or self.channels != (SMS,):
                raise ValueError(f"{self.name}: a phone proof is an account message by SMS only")
        elif self.preference is None and self.channels != (EMAIL,):
            raise ValueError(f"{self.name}: an account message goes by email only")

    def __hash__(self) -> int:
        return hash(self.name)

    def sms_number(self, user: Any) -> str:
        """Where a text of this kind to `user` goes: his verified number ("" if none),
        or, for the text that proves a number, the number he asked to prove."""
        return user.phone if self.proves_phone else user.verified_phone


_registry: dict[str, MessageKind] = {}


def placeholder(name: str) -> str:
    """What stands in the stored message where minted value `name` goes.

    Braces and letters survive HTML autoescaping, so the same marker is found
    in the plain and the HTML body.
    """
    return "{link:%s}" % name  # noqa: UP031 (the braces are the marker)


def register(*kinds: MessageKind | Iterable[MessageKind]) -> None:
    """Declare kinds (at start-up, from an AppConfig.ready()); a name is declared once."""
    for item in kinds:
        for kind in [item] if isinstance(item, MessageKind) else item:
            existing = _registry.get(kind.name)
            if existing is not None and existing != kind:
                raise ValueError(f"message kind {kind.name!r} is declared twice")
            _registry[kind.name] = kind


def get(name: str) -> MessageKind:
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"unknown message kind {name!r}: not registered") from None


def find(name: str) -> MessageKind | None:
    return _registry.get(name)


def all_kinds() -> list[MessageKind]:
    return sorted(_registry.values(), key=lambda kind: kind.name)
