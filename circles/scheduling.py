"""Turn each circle's schedule into meeting rows, weeks ahead, with a rotating leader.

A circle's schedule lives in its own time zone: every local meeting date is
turned into a UTC start with ``Circle.local_start`` (DST-correct), so a weekly
19:00 circle stays at 19:00 local when the clocks change.

Safe to run from several hosts at once: each circle is scheduled with its row
locked (so the rotation is decided by one process at a time), and the unique
(circle, starts_at) constraint with ``ignore_conflicts`` keeps a meeting from
ever being created twice. A cancelled meeting keeps its row, so its date is
never scheduled again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from circles import caching
from circles.models import Circle, Meeting, Membership

DEFAULT_WEEKS = 8
# Circles that meet; a closed circle gets no new meetings.
SCHEDULED_STATUSES = (Circle.Status.FORMING, Circle.Status.OPEN, Circle.Status.FULL)


def meeting_dates(circle: Circle, *, start: date, days: int) -> Iterator[date]:
    """The circle's local meeting dates in [start, start + days)."""
    for offset in range(days):
        day = start + timedelta(days=offset)
        if circle.meets_on(day):
            yield day


def leader_order(
    members: Iterable[Membership], last_led: dict[int, datetime]
) -> Iterator[int | None]:
    """User ids, one per meeting to come: always the man whose turn is longest ago.

    A round robin: whoever has never led goes first (in join order: `members`
    come ordered by joined_at, then pk), then whoever led least recently. A
    newcomer so takes one turn soon and then rejoins the round, rather than
    leading week after week to "catch up". No members, no leader (None).
    """
    members = list(members)
    if not members:
        while True:
            yield None
    never = datetime.min.replace(tzinfo=UTC)
    # (0, when he last led) until he gets a turn in this run, then (1, n): every
    # turn given out now comes after every turn taken before.
    turn: dict[int, tuple[int, object]] = {
        m.user_id: (0, last_led.get(m.user_id, never)) for m in members
    }
    rank = {m.user_id: i for i, m in enumerate(members)}
    for n in itertools.count():
        user_id = min(turn, key=lambda uid: (turn[uid], rank[uid]))
        turn[user_id] = (1, n)
        yield user_id


def _active_members(circle: Circle) -> list[Membership]:
    """Every active member, whatever his role, in join order."""
    return list(
        circle.memberships.active()
        .only("pk", "user_id", "joined_at")
        .order_by(F("joined_at").asc(nulls_last=True), "pk")
    )


def _last_led(circle: Circle) -> dict[int, datetime]:
    """When each man last led (or will lead) here; a cancelled meeting is no turn."""
    rows = (
        Meeting.objects.filter(circle=circle, leader__isnull=False)
        .exclude(status=Meeting.Status.CANCELLED)
        .values("leader_id")
        .annotate(last=Max("starts_at"))
        .order_by()
    )
    return {row["leader_id"]: row["last"] for row in rows}


@transaction.atomic
def schedule_circle(circle: Circle, *, weeks: int, today: date | None = None) -> int:
    """Create the circle's meetings for the next `weeks` weeks; return how many were new.

    `today` is a local date in the circle's time zone (default: today there);
    without it, an occurrence today that has already started is skipped.
    Idempotent: existing rows, cancelled ones included, are left alone.
    """
    # The lock serialises concurrent runs per circle, so each decides the
    # rotation on what the other committed and the counts add up.
    circle = Circle.objects.select_for_update().get(pk=circle.pk)
    if circle.status not in SCHEDULED_STATUSES or weeks <= 0:
        return 0
    zone = circle.zone
    if today is None:
        today = timezone.localdate(timezone=zone)
        not_before = timezone.now()
    else:
        not_before = datetime.combine(today, time.min, tzinfo=zone)
    starts = [circle.local_start(day) for day in meeting_dates(circle, start=today, days=7 * weeks)]
    starts = [s for s in starts if s >= not_before]
    if not starts:
        return 0
    taken = set(
        Meeting.objects.filter(circle=circle, starts_at__in=starts).values_list(
            "starts_at", flat=True
        )
    )
    starts = [s for s in starts if s not in taken]
    if not starts:
        return 0
    leaders = leader_order(_active_members(circle), _last_led(circle))
    duration = circle.duration()
    Meeting.objects.bulk_create(
        [
            Meeting(circle=circle, starts_at=s, ends_at=s + duration, leader_id=next(leaders))
            for s in starts
        ],
        # Belt and braces: a meeting a facilitator added meanwhile wins.
        ignore_conflicts=True,
    )
    caching.bump(caching.circle_scope(circle.pk))  # bulk_create sends no signal
    return len(starts)


def circles_to_schedule() -> Iterable[Circle]:
    return Circle.objects.filter(status__in=SCHEDULED_STATUSES).order_by("pk")
