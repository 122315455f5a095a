"""What the site keeps about a member, app by app: for his export and his deletion.

accounts knows no app above it, so each app registers its own part from its
AppConfig.ready():

- an *exporter*: a named section of "Download my data" (JSON-ready values);
- an *eraser*: what the app does when a member deletes his account. `check`
  refuses a deletion the app cannot allow now (the last lead facilitator of a
  circle) by raising ErasureError; every app's check runs before anything
  else. `release` then talks to a vendor (cancel his Stripe subscription),
  outside any database transaction; it must be safe to run again, and raises
  ErasureError to stop the deletion before anything is deleted. `erase` then
  deletes or anonymises the app's rows about him, inside the deletion's
  transaction, before the user row goes. `holds` answers, for many accounts at
  once, which of them the app keeps something for that must not vanish
  unasked (a membership, a payment): `purge_expired_credentials` deletes only
  stale sign-ups no app holds.

`accounts.services.user_export` and `user_delete` run them in registration
order (apps' ready() order, then the order each app registers in).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

Exporter = Callable[[Any], Any]  # (user) -> a JSON-ready value
Step = Callable[[Any], None]  # (user) -> None
Holds = Callable[[Collection[int]], set[int]]  # (user ids) -> those the app holds something for


class ErasureError(Exception):
    """A deletion that cannot go ahead now (a vendor is down); nothing was deleted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Eraser:
    name: str
    check: Step | None = None
    release: Step | None = None
    erase: Step | None = None
    holds: Holds | None = None


_exporters: dict[str, Exporter] = {}
_erasers: dict[str, Eraser] = {}


def exporter(name: str, export: Exporter) -> None:
    """Register the export section `name` (one per name)."""
    if _exporters.get(name, export) is not export:
        raise ValueError(f"export section {name!r} is registered twice")
    _exporters[name] = export


def eraser(
    name: str,
    *,
    check: Step | None = None,
    release: Step | None = None,
    erase: Step | None = None,
    holds: Holds | None = None,
) -> None:
    """Register what deleting an account does to `name`'s rows (one per name)."""
    entry = Eraser(name, check=check, release=release, erase=erase, holds=holds)
    if _erasers.get(name, entry) != entry:
        raise ValueError(f"eraser {name!r} is registered twice")
    _erasers[name] = entry


def exporters() -> dict[str, Exporter]:
    return dict(_exporters)


def erasers() -> list[Eraser]:
    return list(_erasers.values())


def holding(user_ids: Collection[int]) -> set[int]:
    """Of these accounts, those some app keeps something for (see `holds`)."""
    ids = set(user_ids)
    held: set[int] = set()
    for entry in _erasers.values():
        if entry.holds is not None and ids:
            held |= entry.holds(ids)
    return held & ids
