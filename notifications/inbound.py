"""Two-way SMS: what a text to our number does, and what we answer.

STOP and START (opting a number out of texts and back in) are this app's;
anything else is answered by the handlers other apps register for their own
keywords (circles: YES / NO for the next meeting). An unknown number gets an
answer that reveals nothing about whether it belongs to anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from notifications import services

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"}
START_WORDS = {"START", "UNSTOP", "OPTIN"}

STOPPED = "You will get no more texts from Men's Circle. Reply START to get them again."
STARTED = "Texts from Men's Circle are back on. Reply STOP to stop them."
HELP = "Men's Circle: {how}STOP ends texts."
UNKNOWN = "Sorry, we could not match this number. Manage your texts at {site}"

# handler(user=..., word=...) -> the answer to text back
Handler = Callable[..., str]


@dataclass(frozen=True)
class Keywords:
    words: frozenset[str]
    handler: Handler
    help: str  # one sentence for the HELP answer, e.g. "reply YES or NO to ..."


_handlers: dict[str, Keywords] = {}


def register(*, words: set[str], handler: Handler, help: str) -> None:
    """Let `handler` answer texts whose first word is one of `words` (upper case)."""
    entry = Keywords(frozenset(words), handler, help)
    for word in words:
        existing = _handlers.get(word)
        if existing is not None and existing != entry:
            raise ValueError(f"the SMS keyword {word!r} is taken")
        _handlers[word] = entry


def help_text() -> str:
    helps = dict.fromkeys(entry.help for entry in _handlers.values())
    return HELP.format(how="".join(f"{text} " for text in helps))


def sender(phone: str) -> Any | None:
    """The verified, active member a text from `phone` speaks for, if any.

    Only a member who proved the number speaks for it (and a verified number
    belongs to one account). STOP and START need no sender: they are about
    the number, not an account.
    """
    return (
        get_user_model()
        .objects.filter(
            phone=phone,
            phone_verified_at__isnull=False,
            is_active=True,
            email_verified_at__isnull=False,
        )
        .first()
    )


def reply_to(*, phone: str, text: str) -> str:
    """Act on an inbound text from `phone` and return the answer to send back."""
    unknown = UNKNOWN.format(site=settings.SITE_URL)
    if not phone:  # no sender: nobody to act for
        return unknown
    words = text.strip().upper().split()
    word = words[0].strip(".!") if words else ""
    if word in STOP_WORDS:
        services.sms_opt_out(phone=phone)
        return STOPPED
    if word in START_WORDS:
        services.sms_opt_in(phone=phone)
        return STARTED
    user = sender(phone)
    if user is None:
        return unknown
    entry = _handlers.get(word)
    if entry is None:
        return help_text()
    return entry.handler(user=user, word=word)
