"""No page reads a big table from end to end: EXPLAIN at national size.

At 1,000 circles and 100,000 meetings (tests/perf/bigdata.py, then ANALYZE),
the real pages and the reminder run are driven and every SELECT they send is
captured, then EXPLAINed on PostgreSQL: a sequential scan of meetings,
memberships, RSVPs or attendance fails the test and names the query. The SQL
is never copied here, so a page that changes is checked as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client

from circles.reminders import queue_reminders
from tests.conftest import capture_all_queries, force_signed_in
from tests.perf import bigdata

pytestmark = pytest.mark.django_db(databases="__all__")

# The tables that grow with the number of meetings and men.
BIG_TABLES = {"circles_meeting", "circles_membership", "circles_rsvp", "circles_attendance"}


def seq_scans(plan: dict) -> Iterator[str]:
    """The big tables a plan (and its subplans) reads sequentially."""
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        yield plan["Relation Name"]
    for child in plan.get("Plans", []):
        yield from seq_scans(child)


def explain(alias: str, sql: str) -> dict:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (raw,) = cursor.fetchone()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def selects(run: Callable[[], object]) -> list[tuple[str, str]]:
    """(alias, SQL) of every SELECT that `run` sends that touches a big table."""
    cache.delete_pattern("*")  # a cached page would send no query to check
    with capture_all_queries() as captured:
        run()
    return [
        (alias, q["sql"])
        for alias, context in captured.items()
        for q in context.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        and any(table in q["sql"] for table in BIG_TABLES)
    ]


def shortened(sql: str) -> str:
    """The query from its FROM on, long lists of ids cut: enough to know it again."""
    tail = sql[sql.find(" FROM ") + 1 :] if " FROM " in sql else sql
    return tail if len(tail) <= 600 else tail[:450] + " … " + tail[-150:]


def get_ok(client: Client, path: str) -> Callable[[], None]:
    def run() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return run


def test_no_page_scans_meetings_memberships_or_rsvps_at_100k_meetings() -> None:
    # Five men a circle (half the benchmark's): the tables the plans read keep
    # their national size (memberships in the thousands, 100,000 meetings,
    # RSVPs and attendance in the tens of thousands), in half the time.
    data = bigdata.load(members=5_000)
    member = force_signed_in(data.member)
    circle = data.member_circle.get_absolute_url()
    runs = {
        "dashboard": get_ok(member, "/dashboard/"),
        "directory": get_ok(Client(), "/circles/"),
        "directory search": get_ok(Client(), f"/circles/?q={bigdata.SEARCH_WORD}"),
        "circle page (anonymous)": get_ok(Client(), circle),
        "circle page (member)": get_ok(member, circle),
        "meeting page": get_ok(member, data.member_meeting.get_absolute_url()),
        "reminder selection": queue_reminders,
    }
    checked = 0
    scans = []
    for page, run in runs.items():
        found = selects(run)
        assert found, f"{page}: no query on the big tables was captured"
        for alias, sql in found:
            checked += 1
            if tables := sorted(set(seq_scans(explain(alias, sql)))):
                scans.append(f"{page}: Seq Scan on {', '.join(tables)} in\n    {shortened(sql)}")
    assert not scans, f"{len(scans)} of {checked} queries scan a whole table:\n" + "\n".join(scans)
