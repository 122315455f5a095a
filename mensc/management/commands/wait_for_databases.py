"""Wait for both databases at container start, before `migrate` (deploy/)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections


class Command(BaseCommand):
    help = (
        "Wait until every database accepts connections, retrying every --interval "
        "seconds; exit 1 after --timeout seconds."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds (60)")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds (1)")

    def handle(self, *args: Any, timeout: float, interval: float, **options: Any) -> None:
        deadline = time.monotonic() + timeout
        waiting = {alias: "" for alias in connections}
        while True:
            for alias in list(waiting):
                try:
                    connections[alias].ensure_connection()
                except DatabaseError as exc:
                    # The driver's message names host and port, never the password.
                    waiting[alias] = str(exc).strip().splitlines()[0] if str(exc) else repr(exc)
                else:
                    del waiting[alias]
                finally:
                    connections[alias].close()
            if not waiting:
                self.stdout.write(f"databases ready: {', '.join(connections)}")
                return
            if time.monotonic() + interval > deadline:
                reasons = "; ".join(f"{alias}: {reason}" for alias, reason in waiting.items())
                raise CommandError(f"databases not reachable after {timeout:g} s ({reasons})")
            time.sleep(interval)
