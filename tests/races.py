"""Real interleavings on PostgreSQL: park a request on a lock, do something, let it go.

A request runs in a thread (its own connections); the test holds a lock the
request will need at the point of interest (a table it reads, a row it
writes), waits until PostgreSQL shows the request waiting for it, does the
racing work, and releases the lock by ending its transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connections


class Worker:
    """Work run in a thread with its own database connections; its result or error kept."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float = 20) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the request never finished"
        if self.error is not None:
            raise self.error
        return self.result


def waiting_for_lock(alias: str, table: str) -> bool:
    """Whether another connection waits for a lock, in a query naming `table`."""
    with connections[alias].cursor() as cursor:
        # Statistics are a snapshot per transaction: take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0] > 0


def parked(alias: str, table: str, worker: Worker, timeout: float = 10) -> bool:
    """Wait until `worker` waits for a lock on `table` (False if it never does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if waiting_for_lock(alias, table):
            return True
        if not worker.running:
            return False
        time.sleep(0.02)
    return False
