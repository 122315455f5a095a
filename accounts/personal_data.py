"""What the site keeps about a member, app by app: for his export and his deletion.

accounts knows no app above it, so each app registers its own part from its
AppConfig.ready():

- an *exporter*: a named section of "Download my data" (JSON-ready values);
- an *eraser*: what the app does when a member deletes his account. `release`
  talks to a vendor first (cancel his Stripe subscription), outside any
  database transaction; it must be safe to run again, and raises ErasureError
  to stop the deletion before anything is deleted. `erase` then deletes or
  anonymises the app's rows about him, inside the deletion's transaction,
  before the user row goes.

`accounts.services.user_export` and `user_delete` run them in registration
order (apps' ready() order, then the order each app registers in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Exporter = Callable[[Any], Any]  # (user) -> a JSON-ready value
Step = Callable[[Any], None]  # (user) -> None


class ErasureError(Exception):
    """A deletion that cannot go ahead now (a vendor is down); nothing was deleted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Eraser:
    name: str
    release: Step | None = None
    erase: Step | None = None


_exporters: dict[str, Exporter] = {}
_erasers: dict[str, Eraser] = {}


def exporter(name: str, export: Exporter) -> None:
    """Register the export section `name` (one per name)."""
    if _exporters.get(name, export) is not export:
        raise ValueError(f"export section {name!r} is registered twice")
    _exporters[name] = export


def eraser(name: str, *, release: Step | None = None, erase: Step | None = None) -> None:
    """Register what deleting an account does to `name`'s rows (one per name)."""
    entry = Eraser(name, release, erase)
    if _erasers.get(name, entry) != entry:
        raise ValueError(f"eraser {name!r} is registered twice")
    _erasers[name] = entry


def exporters() -> dict[str, Exporter]:
    return dict(_exporters)


def erasers() -> list[Eraser]:
    return list(_erasers.values())
