"""A site at national size, loaded through the ORM: for the load benchmark and the EXPLAIN test.

10,000 members (their credentials in `creds`), 1,000 listed circles with
varied names, areas, descriptions, weekdays, time zones, kinds and sizes,
about ten memberships each (facilitators, paused men, requests, waitlists),
100,000 weekly meetings (70 past, 30 to come per circle; a few cancelled), RSVPs around today
and the attendance of the last twenty meetings. Then ANALYZE, so the planner
sees the tables as they are.

One known member (`BigData.member`, password `tests.conftest.PASSWORD`) is in
three circles and asks to join a fourth; the pages and the API are measured as
him. bulk_create in batches, one password hash for everyone: the point is the
size of the tables, not the cost of making them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock

from django.contrib.auth.hashers import make_password
from django.db import connections
from django.utils import timezone

from accounts.models import Credential, User
from circles import caching
from circles.models import (
    RSVP,
    Agreement,
    AgreementAcceptance,
    Attendance,
    Circle,
    Meeting,
    Membership,
)
from tests.conftest import PASSWORD

BATCH = 2_000
MEMBER_EMAIL = "member@bench.example.com"
# A word found in about one circle in twenty (a public area), for the search page.
SEARCH_WORD = "harbour"

ADJECTIVES = (
    "Quiet", "Open", "Steady", "Brave", "Honest", "Gentle", "Rooted", "Wild", "Still", "Bold",
    "Kind", "Clear", "Deep", "True", "Warm", "Free", "Strong", "Patient", "Humble", "Bright",
)  # fmt: skip
NOUNS = (
    "River", "Oak", "Stone", "Harbour", "Mountain", "Fire", "Lantern", "Bridge", "Forest",
    "Anchor", "Compass", "Hearth", "Tide", "Ridge", "Meadow", "Cedar", "Falcon", "Trail",
    "Valley", "Wolf", "Crossing", "Shore", "Well", "Path", "Table",
)  # fmt: skip
AREAS = (
    "Mission District", "North Beach", "Old Harbour", "Riverside", "Westside", "Eastgate",
    "Hillcrest", "Lakeview", "Downtown", "Old Town", "Southbank", "Northside", "Greenwood",
    "Harbour Point", "Fairview", "Brookside", "Millbrook", "Kingsway", "Parkdale", "Seaside",
    "Maplewood", "Ashford", "Elm Park", "Stonebridge", "Willow Creek", "Cedar Hills",
    "Pine Ridge", "Highland", "Bayview", "Meadowlands", "Clifton", "Redhill", "Oldfield",
    "Beacon Hill", "Canal Street", "Market Square", "University", "Docklands", "Foxhall",
    "Woodside",
)  # fmt: skip
THEMES = (
    "fathers of young children", "men in their twenties", "grief and loss", "sobriety",
    "veterans", "men over sixty", "new fathers", "career changes", "divorce and separation",
    "anger and calm", "faith and doubt", "men who work nights", "caring for a parent",
    "coming out later in life", "living with illness", "retirement", "first-time members",
    "entrepreneurs", "artists and makers", "outdoor walks",
)  # fmt: skip
SENTENCES = (
    "We sit in a circle and speak one at a time.",
    "What is said here stays here.",
    "Newcomers are welcome; the first night is for listening.",
    "We open with a check-in and close with a word each.",
    "Bring nothing but yourself and an open mind.",
    "Some of us have met for years; some came last month.",
    "We meet in a quiet room with tea on the table.",
    "No advice unless asked: we listen first.",
    "Phones off, cameras on for the online nights.",
    "We keep to time and start on the minute.",
)
ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Toronto", "America/Vancouver", "Europe/London", "Europe/Paris", "Europe/Berlin",
    "Europe/Madrid", "Australia/Sydney", "Pacific/Auckland", "Asia/Tokyo", "Africa/Johannesburg",
    "America/Sao_Paulo", "UTC",
)  # fmt: skip
FIRST_NAMES = (
    "James", "Omar", "Liam", "Noah", "Mateo", "Kwame", "Hiroshi", "Lars", "Pierre", "Diego",
    "Sam", "Arjun", "Tom", "Ethan", "Ali", "Marco", "Jonas", "Felix", "Owen", "Ravi",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Okafor", "Nguyen", "Garcia", "Müller", "Rossi", "Kowalski", "Silva", "Brown",
    "Tanaka", "Johansson", "Dubois", "Khan", "Murphy", "Cohen", "Larsen", "Costa", "Walker",
)  # fmt: skip


@dataclass
class BigData:
    member: User
    member_circle: Circle
    member_meeting: Meeting
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        sizes = ", ".join(f"{n:,} {name}" for name, n in self.counts.items())
        return f"{sizes} in {self.seconds:.1f} s"


def _first_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _circles(rng: random.Random, n: int, today: date) -> list[Circle]:
    circles = []
    for i in range(n):
        kind = ("in_person", "in_person", "online", "hybrid")[i % 4]
        area = AREAS[rng.randrange(len(AREAS))]
        theme = THEMES[rng.randrange(len(THEMES))]
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} Circle {i + 1}"
        circles.append(
            Circle(
                name=name,
                slug=f"circle-{i + 1}",
                description=f"A circle for {theme} in {area}. "
                + " ".join(rng.sample(SENTENCES, 3)),
                capacity=8 + i % 7,
                status=("open", "open", "open", "full", "forming")[i % 5],
                is_listed=True,
                time_zone=ZONES[i % len(ZONES)],
                weekday=i % 7,
                start_time=clock(18 + i % 3, (i % 2) * 30),
                duration_minutes=(90, 120, 60)[i % 3],
                starts_on=today - timedelta(weeks=80),
                location_kind=kind,
                public_area="" if kind == "online" else area,
                private_address=f"{i + 1} Bench Street" if kind != "online" else "",
                video_link=f"https://meet.example.com/circle-{i + 1}"
                if kind != "in_person"
                else "",
            )
        )
    return Circle.objects.bulk_create(circles, batch_size=BATCH)


def _users(n: int, now) -> list[User]:
    users = [
        User(
            email=MEMBER_EMAIL if i == 1 else f"man{i}@bench.example.com",
            full_name="Bench Member"
            if i == 1
            else f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i // 7 % len(LAST_NAMES)]}",
            time_zone=ZONES[i % len(ZONES)],
            email_verified_at=now,
            date_joined=now - timedelta(days=800),
        )
        for i in range(n)
    ]
    users = User.objects.bulk_create(users, batch_size=BATCH)
    hashed = make_password(PASSWORD)  # once: hashing 10,000 times would be the whole load
    Credential.objects.bulk_create(
        (Credential(user_id=u.pk, password_hash=hashed) for u in users), batch_size=BATCH
    )
    return users


def _member_status(circle_index: int, place: int) -> tuple[str, str]:
    """(role, status) of the man in `place` (0-9) of a circle."""
    if place == 0:
        return Membership.Role.FACILITATOR, Membership.Status.ACTIVE
    if place == 1 and circle_index % 3 == 0:
        return Membership.Role.CO_FACILITATOR, Membership.Status.ACTIVE
    if place == 8:
        return Membership.Role.MEMBER, Membership.Status.PAUSED
    if place == 9:
        status = {0: "requested", 1: "waitlisted", 2: "left"}.get(circle_index % 4, "active")
        return Membership.Role.MEMBER, status
    return Membership.Role.MEMBER, Membership.Status.ACTIVE


def _memberships(circles: list[Circle], users: list[User], now) -> list[Membership]:
    per_circle = max(1, len(users) // len(circles))
    rows = []
    joined = now - timedelta(days=700)
    for u_index, user in enumerate(users):
        c_index = min(u_index // per_circle, len(circles) - 1)
        role, status = _member_status(c_index, u_index % per_circle)
        in_circle = status in Membership.MEMBER_STATUSES or status == Membership.Status.LEFT
        rows.append(
            Membership(
                circle=circles[c_index],
                user=user,
                role=role,
                status=status,
                requested_at=joined - timedelta(days=3),
                decided_at=joined if status != "requested" else None,
                joined_at=joined if in_circle else None,
                left_at=now - timedelta(days=30) if status == "left" else None,
                bio="Has facilitated circles for years." if role != "member" else "",
            )
        )
    # The known member (user 1, a member of circle 0) is in two more and asks to join a third.
    member = users[1]
    for c_index, status in ((1, "active"), (2, "active"), (3, "requested")):
        rows.append(
            Membership(
                circle=circles[c_index],
                user=member,
                status=status,
                requested_at=joined,
                joined_at=joined if status == "active" else None,
            )
        )
    return Membership.objects.bulk_create(rows, batch_size=BATCH)


def _meetings(
    circles: list[Circle], leaders: dict[int, int], per_circle: int, past: int, today: date
) -> dict[int, list[Meeting]]:
    rows: list[Meeting] = []
    for c_index, circle in enumerate(circles):
        first = _first_on_or_after(today - timedelta(weeks=past), circle.weekday)
        for week in range(per_circle):
            day = first + timedelta(weeks=week)
            starts = circle.local_start(day)
            cancelled = (c_index + week) % 37 == 0
            # Nothing marks a meeting held by itself: most past ones stay scheduled.
            held = week < past and (c_index + week) % 10 == 0
            status = "cancelled" if cancelled else ("held" if held else "scheduled")
            rows.append(
                Meeting(
                    circle=circle,
                    starts_at=starts,
                    ends_at=starts + circle.duration(),
                    status=status,
                    cancel_reason="The room is closed that week." if cancelled else "",
                    leader_id=leaders.get(circle.pk) if week % 4 == 0 else None,
                    note="Bring a photo that matters to you." if week % 10 == 3 else "",
                )
            )
    meetings = Meeting.objects.bulk_create(rows, batch_size=BATCH)
    by_circle: dict[int, list[Meeting]] = {}
    for meeting in meetings:
        by_circle.setdefault(meeting.circle_id, []).append(meeting)
    return by_circle


def _answers(
    rng: random.Random,
    by_circle: dict[int, list[Meeting]],
    memberships: list[Membership],
    past: int,
    now,
) -> tuple[int, int]:
    """RSVPs to the last 10 and next 4 meetings of each circle; attendance of the last 20."""
    in_circle: dict[int, list[int]] = {}
    for m in memberships:
        if m.status in Membership.MEMBER_STATUSES:
            in_circle.setdefault(m.circle_id, []).append(m.user_id)
    rsvps: list[RSVP] = []
    attendance: list[Attendance] = []
    for circle_id, meetings in by_circle.items():
        men = in_circle.get(circle_id, [])
        for meeting in meetings[past - 10 : past + 4]:
            if meeting.status == "cancelled":
                continue
            for user_id in men:
                if rng.random() < 0.85:
                    rsvps.append(
                        RSVP(
                            meeting=meeting,
                            user_id=user_id,
                            response="yes" if rng.random() < 0.8 else "no",
                            channel=("web", "sms", "api")[rng.randrange(3)],
                            responded_at=min(meeting.starts_at - timedelta(hours=5), now),
                        )
                    )
        for meeting in meetings[past - 20 : past]:
            if meeting.status == "cancelled":
                continue
            for user_id in men:
                roll = rng.random()
                status = "present" if roll < 0.8 else ("excused" if roll < 0.9 else "unexcused")
                attendance.append(Attendance(meeting=meeting, user_id=user_id, status=status))
    RSVP.objects.bulk_create(rsvps, batch_size=BATCH)
    Attendance.objects.bulk_create(attendance, batch_size=BATCH)
    return len(rsvps), len(attendance)


def _agreements(circles: list[Circle], member: User, member_circles: list[Circle]) -> int:
    agreements = Agreement.objects.bulk_create(
        (
            Agreement(
                circle=c,
                version=1,
                text="Confidentiality. Speak from your own experience. Arrive on time.",
            )
            for c in circles
        ),
        batch_size=BATCH,
    )
    mine = {c.pk for c in member_circles}
    AgreementAcceptance.objects.bulk_create(
        AgreementAcceptance(agreement=a, user=member) for a in agreements if a.circle_id in mine
    )
    return len(agreements)


def analyze() -> None:
    """Fresh planner statistics for the tables loaded (ANALYZE runs inside a test's transaction).

    Table by table: a bare ANALYZE also takes the catalogs that every database
    shares, and would wait for the other connection's transaction to end.
    """
    for alias, models in (
        ("default", (User, Circle, Membership, Meeting, RSVP, Attendance, Agreement)),
        ("creds", (Credential,)),
    ):
        with connections[alias].cursor() as cursor:
            for model in models:
                cursor.execute(f"ANALYZE {connections[alias].ops.quote_name(model._meta.db_table)}")


def load(
    *,
    members: int = 10_000,
    circles: int = 1_000,
    meetings_per_circle: int = 100,
    past_meetings: int = 70,
    seed: int = 15,
) -> BigData:
    """Load the site; see the module's docstring. About ten members a circle by default."""
    t0 = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 (made-up data, not a secret)
    now = timezone.now()
    today = now.date()
    circle_rows = _circles(rng, circles, today)
    users = _users(members, now)
    memberships = _memberships(circle_rows, users, now)
    leaders = {m.circle_id: m.user_id for m in memberships if m.role == "facilitator"}
    by_circle = _meetings(circle_rows, leaders, meetings_per_circle, past_meetings, today)
    rsvps, attendance = _answers(rng, by_circle, memberships, past_meetings, now)
    member = users[1]
    member_circles = circle_rows[:3]
    agreements = _agreements(circle_rows, member, member_circles)
    # bulk_create sends no signal: forget anything cached about these circles.
    caching.bump(
        caching.DIRECTORY, caching.SITE, *(caching.circle_scope(c.pk) for c in circle_rows)
    )
    analyze()
    member_circle = member_circles[0]
    return BigData(
        member=member,
        member_circle=member_circle,
        member_meeting=by_circle[member_circle.pk][past_meetings],
        counts={
            "members": len(users),
            "circles": len(circle_rows),
            "memberships": len(memberships),
            "meetings": sum(len(m) for m in by_circle.values()),
            "RSVPs": rsvps,
            "attendance rows": attendance,
            "agreements": agreements,
        },
        seconds=time.monotonic() - t0,
    )
