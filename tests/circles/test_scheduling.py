from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Circle, Meeting, Membership
from circles.scheduling import schedule_circle
from tests.circles.conftest import join, make_circle, make_verified
from tests.proc import ROOT, child_env

pytestmark = pytest.mark.django_db(databases="__all__")

SUMMARY = re.compile(r"^Scheduled (\d+) meetings for (\d+) circles\.$")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(circle: Circle) -> list[datetime]:
    return list(circle.meetings.order_by("starts_at").values_list("starts_at", flat=True))


def local_dates(circle: Circle) -> list[date]:
    return [s.astimezone(circle.zone).date() for s in starts(circle)]


def members_in_join_order(circle: Circle, count: int) -> list[User]:
    """`count` active members, the facilitator first, who joined a week apart."""
    men = []
    for i in range(count):
        man = make_verified(f"man{i}-{circle.slug}@example.com", full_name=f"Man {i}")
        role = Membership.Role.FACILITATOR if i == 0 else Membership.Role.MEMBER
        membership = join(man, circle, role=role)
        Membership.objects.filter(pk=membership.pk).update(
            joined_at=timezone.now() - timedelta(weeks=52 - i)
        )
        men.append(man)
    return men


def led(circle: Circle) -> Counter[int]:
    return Counter(
        circle.meetings.exclude(status=Meeting.Status.CANCELLED).values_list("leader_id", flat=True)
    )


def tomorrows_weekday(zone_name: str) -> int:
    today = timezone.localdate(timezone=Circle(time_zone=zone_name).zone)
    return (today + timedelta(days=1)).weekday()


# --- Dates and times ---------------------------------------------------------------------


def test_weekly_circle_gets_a_meeting_each_week_at_its_local_time() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1), duration_minutes=90)

    created = schedule_circle(circle, weeks=4, today=date(2026, 1, 5))

    assert created == 4
    assert local_dates(circle) == [date(2026, 1, d) for d in (6, 13, 20, 27)]
    for meeting in circle.meetings.all():
        assert meeting.starts_at.astimezone(circle.zone).time() == time(19, 0)
        assert meeting.ends_at - meeting.starts_at == timedelta(minutes=90)
        assert meeting.status == Meeting.Status.SCHEDULED


def test_every_other_week_counts_from_the_first_date() -> None:
    circle = make_circle(weekday=1, frequency=Circle.Frequency.BIWEEKLY, starts_on=date(2026, 1, 6))

    schedule_circle(circle, weeks=8, today=date(2026, 1, 10))

    assert local_dates(circle) == [
        date(2026, 1, 20),
        date(2026, 2, 3),
        date(2026, 2, 17),
        date(2026, 3, 3),
    ]


def test_monthly_circle_meets_on_the_nth_weekday() -> None:
    circle = make_circle(
        weekday=1,
        frequency=Circle.Frequency.MONTHLY,
        week_of_month=2,
        starts_on=date(2026, 1, 1),
    )

    schedule_circle(circle, weeks=13, today=date(2026, 1, 1))

    # The second Tuesdays of January, February and March 2026.
    assert local_dates(circle) == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]


def test_nothing_before_the_circle_starts() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 20))

    schedule_circle(circle, weeks=4, today=date(2026, 1, 5))

    assert local_dates(circle) == [date(2026, 1, 20), date(2026, 1, 27)]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        # Clocks go forward on Sunday 2026-03-08: 19:00 EST is 00:00 UTC, 19:00 EDT 23:00.
        (date(2026, 3, 1), [utc(2026, 3, 6, 0), utc(2026, 3, 12, 23)]),
        # Clocks go back on Sunday 2026-11-01.
        (date(2026, 10, 26), [utc(2026, 10, 29, 23), utc(2026, 11, 6, 0)]),
    ],
)
def test_new_york_circle_stays_at_19_local_across_dst(today: date, expected: list) -> None:
    circle = make_circle(time_zone="America/New_York", weekday=3, starts_on=date(2026, 1, 1))

    schedule_circle(circle, weeks=2, today=today)

    assert starts(circle) == expected
    assert {s.astimezone(circle.zone).time() for s in starts(circle)} == {time(19, 0)}


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        # British Summer Time from 2026-03-29 to 2026-10-25.
        (date(2026, 3, 23), [utc(2026, 3, 26, 19), utc(2026, 4, 2, 18)]),
        (date(2026, 10, 19), [utc(2026, 10, 22, 18), utc(2026, 10, 29, 19)]),
    ],
)
def test_london_circle_stays_at_19_local_across_dst(today: date, expected: list) -> None:
    circle = make_circle(time_zone="Europe/London", weekday=3, starts_on=date(2026, 1, 1))

    schedule_circle(circle, weeks=2, today=today)

    assert starts(circle) == expected
    assert {s.astimezone(circle.zone).time() for s in starts(circle)} == {time(19, 0)}


def test_without_a_date_it_schedules_from_today_in_the_circles_zone() -> None:
    zone = "Australia/Sydney"
    circle = make_circle(time_zone=zone, weekday=tomorrows_weekday(zone))

    assert schedule_circle(circle, weeks=8) == 8

    assert all(s > timezone.now() for s in starts(circle))
    assert local_dates(circle)[0] == timezone.localdate(timezone=circle.zone) + timedelta(days=1)


def test_a_meeting_that_already_began_today_is_not_created() -> None:
    circle = make_circle(time_zone="UTC", weekday=timezone.now().weekday(), start_time=time(0, 0))

    assert schedule_circle(circle, weeks=1) == 0
    assert not circle.meetings.exists()


# --- Idempotence and status ---------------------------------------------------------------


def test_scheduling_twice_creates_nothing_new() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    members_in_join_order(circle, 3)

    first = schedule_circle(circle, weeks=6, today=date(2026, 1, 5))
    leaders = list(circle.meetings.values_list("pk", "leader_id"))
    second = schedule_circle(circle, weeks=6, today=date(2026, 1, 5))

    assert (first, second) == (6, 0)
    assert list(circle.meetings.values_list("pk", "leader_id")) == leaders


def test_a_cancelled_date_is_not_scheduled_again() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    schedule_circle(circle, weeks=4, today=date(2026, 1, 5))
    cancelled = circle.meetings.order_by("starts_at")[1]
    services.meeting_cancel(meeting=cancelled, reason="Snowed in")

    assert schedule_circle(circle, weeks=4, today=date(2026, 1, 5)) == 0

    assert circle.meetings.count() == 4
    assert circle.meetings.filter(starts_at=cancelled.starts_at).get().status == "cancelled"


def test_a_closed_circle_gets_no_meetings() -> None:
    circle = make_circle(status=Circle.Status.CLOSED, weekday=1, starts_on=date(2026, 1, 1))
    members_in_join_order(circle, 2)

    assert schedule_circle(circle, weeks=8, today=date(2026, 1, 5)) == 0
    assert not circle.meetings.exists()


@pytest.mark.parametrize("status", [Circle.Status.FORMING, Circle.Status.OPEN, Circle.Status.FULL])
def test_forming_open_and_full_circles_are_scheduled(status: str) -> None:
    circle = make_circle(status=status, weekday=1, starts_on=date(2026, 1, 1))

    assert schedule_circle(circle, weeks=2, today=date(2026, 1, 5)) == 2
    # No active member yet: no one to lead.
    assert set(circle.meetings.values_list("leader_id", flat=True)) == {None}


# --- Rotation ------------------------------------------------------------------------------


def test_leading_rotates_evenly_through_all_active_members_in_join_order() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    men = members_in_join_order(circle, 3)
    # Men who are not active members never lead.
    for status in (Membership.Status.WAITLISTED, Membership.Status.LEFT):
        Membership.objects.create(
            circle=circle, user=make_verified(f"{status}@example.com"), status=status
        )

    schedule_circle(circle, weeks=7, today=date(2026, 1, 5))

    leaders = list(circle.meetings.order_by("starts_at").values_list("leader_id", flat=True))
    a, b, c = (man.pk for man in men)
    assert leaders == [a, b, c, a, b, c, a]


def test_rotation_carries_on_fairly_across_runs() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    men = members_in_join_order(circle, 4)

    schedule_circle(circle, weeks=5, today=date(2026, 1, 5))
    assert max(led(circle).values()) - min(led(circle).values()) <= 1
    for week in range(1, 12):
        # A daily cron: the window slides on, one new meeting a week.
        schedule_circle(circle, weeks=5, today=date(2026, 1, 5) + timedelta(weeks=week))
        counts = [led(circle)[man.pk] for man in men]
        assert max(counts) - min(counts) <= 1, counts

    assert sorted(led(circle).values()) == [4, 4, 4, 4]


def test_a_newcomer_takes_one_turn_and_then_joins_the_round() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    a, b, c = members_in_join_order(circle, 3)
    schedule_circle(circle, weeks=6, today=date(2026, 1, 5))
    newcomer = make_verified("newcomer@example.com")
    join(newcomer, circle)

    schedule_circle(circle, weeks=10, today=date(2026, 1, 5))

    later = list(circle.meetings.order_by("starts_at").values_list("leader_id", flat=True)[6:])
    assert later == [newcomer.pk, a.pk, b.pk, c.pk]


def test_a_cancelled_meeting_does_not_count_as_a_turn() -> None:
    circle = make_circle(weekday=1, starts_on=date(2026, 1, 1))
    first, second = members_in_join_order(circle, 2)
    schedule_circle(circle, weeks=2, today=date(2026, 1, 5))
    services.meeting_cancel(meeting=circle.meetings.get(leader=first))

    schedule_circle(circle, weeks=3, today=date(2026, 1, 5))

    leaders = list(circle.meetings.order_by("starts_at").values_list("leader_id", flat=True))
    assert leaders == [first.pk, second.pk, first.pk]


def test_rotation_queries_do_not_grow_with_the_weeks() -> None:
    circles = [make_circle(weekday=1, starts_on=date(2026, 1, 1)) for _ in range(2)]
    for circle in circles:
        members_in_join_order(circle, 5)

    with CaptureQueriesContext(connections["default"]) as few:
        schedule_circle(circles[0], weeks=2, today=date(2026, 1, 5))
    with CaptureQueriesContext(connections["default"]) as many:
        schedule_circle(circles[1], weeks=20, today=date(2026, 1, 5))

    assert len(many.captured_queries) == len(few.captured_queries)


# --- Commands ------------------------------------------------------------------------------


def test_command_schedules_every_active_circle_and_prints_one_summary_line() -> None:
    weekday = tomorrows_weekday("America/New_York")
    for _ in range(2):
        members_in_join_order(make_circle(weekday=weekday), 3)
    make_circle(weekday=weekday, status=Circle.Status.CLOSED)
    out = StringIO()

    call_command("schedule_meetings", stdout=out)

    assert out.getvalue() == "Scheduled 16 meetings for 2 circles.\n"
    assert Meeting.objects.count() == 16

    out = StringIO()
    call_command("schedule_meetings", "--weeks", "10", stdout=out)

    assert out.getvalue() == "Scheduled 4 meetings for 2 circles.\n"


@pytest.mark.parametrize("weeks", ["0", "53", "-1"])
def test_command_refuses_a_silly_number_of_weeks(weeks: str) -> None:
    make_circle(weekday=1)

    with pytest.raises(CommandError, match="--weeks"):
        call_command("schedule_meetings", "--weeks", weeks, stdout=StringIO())

    assert not Meeting.objects.exists()


def test_expire_seat_offers_passes_expired_offers_on() -> None:
    circle = make_circle(capacity=2)
    join(make_verified("in@example.com"), circle)
    stale = Membership.objects.create(
        circle=circle,
        user=make_verified("slow@example.com"),
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now() - timedelta(days=5),
        offer_expires_at=timezone.now() - timedelta(hours=1),
    )
    out = StringIO()

    call_command("expire_seat_offers", stdout=out)

    assert out.getvalue() == "Expired 1 seat offers.\n"
    stale.refresh_from_db()
    # The only man waiting gets a fresh offer: he is at the back of a queue of one.
    assert stale.offer_expires_at > timezone.now()


# --- Concurrency ---------------------------------------------------------------------------


def _summaries(outputs: list[str]) -> list[tuple[int, int]]:
    found = []
    for output in outputs:
        match = SUMMARY.match(output.strip().splitlines()[-1])
        assert match, output
        found.append((int(match[1]), int(match[2])))
    return found


def _assert_scheduled_once(circles: list[Circle], weeks: int, created: list[int]) -> None:
    per_circle = Counter(Meeting.objects.values_list("circle_id", "starts_at"))
    assert set(per_circle.values()) == {1}
    assert Meeting.objects.count() == len(circles) * weeks == sum(created)
    for circle in circles:
        counts = led(circle).values()
        assert max(counts) - min(counts) <= 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_threads_schedule_each_meeting_once() -> None:
    weekday = tomorrows_weekday("America/New_York")
    circles = [make_circle(weekday=weekday) for _ in range(6)]
    for circle in circles:
        members_in_join_order(circle, 3)
    start = threading.Barrier(4)
    outputs: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out = StringIO()
            start.wait()
            call_command("schedule_meetings", "--weeks", "6", stdout=out)
            outputs.append(out.getvalue())
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    summaries = _summaries(outputs)
    assert {m for _, m in summaries} == {6}
    _assert_scheduled_once(circles, 6, [n for n, _ in summaries])


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_manage_py_processes_schedule_each_meeting_once() -> None:
    weekday = tomorrows_weekday("America/New_York")
    circles = [make_circle(weekday=weekday) for _ in range(4)]
    for circle in circles:
        members_in_join_order(circle, 3)
    env = child_env()
    command = [sys.executable, "manage.py", "schedule_meetings", "--weeks", "5"]

    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]

    assert [proc.returncode for proc in procs] == [0, 0]
    summaries = _summaries(outputs)
    _assert_scheduled_once(circles, 5, [n for n, _ in summaries])
