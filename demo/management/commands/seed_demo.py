"""Idempotent demo data for the embedded default (README's run command).

Four circles in four time zones, each with a facilitator, members, agreements,
a few weeks of held meetings (RSVPs and attendance) and the coming weeks
scheduled; and two events: a free open evening and a paid weekend retreat,
full, with a waitlist. Everything is keyed by email or slug, so a second run
creates nothing; a circle's history and an event's registrations are made only
when the circle or the event itself is.
"""

from __future__ import annotations

import random
import zoneinfo
from base64 import b32encode
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.canonical import email_key
from accounts.models import Credential, TOTPDevice, User
from billing.models import DuesTier
from circles import services
from circles.models import RSVP, AgreementAcceptance, Attendance, Circle, Meeting, Membership
from circles.scheduling import DEFAULT_WEEKS, schedule_circle
from events.groups import GROUP as ORGANISERS_GROUP
from events.models import Answer, Event, Question, Registration, TicketTier
from mensc.routers import CREDS_DB
from notifications.models import Notification

# Published on purpose: seed_demo runs only with DEBUG on.
DEMO_PASSWORD = "circle-demo-2026"
DEMO_ADMIN = "admin@example.com"
DEMO_FACILITATOR = "marcus.reyes@example.com"
FACILITATOR_BIO = (
    "I have sat in men's circles for twelve years and facilitated for six. "
    "My job is to keep the time and the agreements, not to give advice."
)
DEMO_MEMBER = "daniel.kim@example.com"
FACILITATORS_GROUP = "Facilitators"
# Demo men with a mobile number (fictional 555-01xx numbers) have proved it, as
# texts go only to verified numbers; in the embedded default texts are printed.
DEMO_PHONES = {
    DEMO_FACILITATOR: "+14155550117",
    DEMO_MEMBER: "+14155550142",
    "jorge.alvarez@example.com": "+14155550163",
    "andre.jackson@example.com": "+13125550188",
}
HISTORY_WEEKS = 8
# The sliding scale: (name, cents a month, description). Their Stripe price ids
# are placeholders: the embedded default has no Stripe, so the dues page shows
# the amounts and says to ask the facilitator how to pay. With Stripe set up,
# a treasurer makes real tiers in the admin (which makes their prices).
DEMO_TIERS = [
    ("Low income", 1000, "If money is tight this year."),
    ("Standard", 2500, "What a seat in a circle costs."),
    ("Sponsor", 5000, "Covers your dues and another man's."),
]
# Staff sign in with a second factor. The demo's authenticator key is published
# like its password (seed_demo runs only with DEBUG on): a newcomer adds it to
# an authenticator app, or asks `manage.py demo_code` for the current code.
DEMO_TOTP_KEY = b"mens-circle-demo-key".hex()
# A demo request has waited this long: the at-risk page shows it.
REQUEST_AGE = timedelta(days=5)
# The drifting man's unexcused absences, the last meetings in a row.
DRIFTING_MISSES = 3

AGREEMENTS = """\
Confidentiality: what is said in the circle stays in the circle. We share our own \
stories outside it, never another man's.
Presence: we arrive on time, put phones away, and tell the facilitator ahead of time \
when we can't come.
Respect: we speak from our own experience, listen without fixing or advising unless \
asked, and leave room for every man to speak.
Commitment: we come back week after week; a man who wants to leave says so in the circle."""


@dataclass(frozen=True)
class CircleSpec:
    slug: str
    name: str
    fields: dict[str, Any]
    facilitator: tuple[str, str]
    members: list[tuple[str, str]]
    # Asking to join, in order: once the seats are held, the rest wait on the waitlist.
    pending: list[tuple[str, str]] = field(default_factory=list)
    # A member who said yes and stayed away from the last meetings: drifting.
    drifting: str | None = None


CIRCLES = [
    CircleSpec(
        slug="mission-tuesday",
        name="Mission Tuesday Circle",
        fields={
            "description": "A weekly in-person circle for men in San Francisco. All ages, "
            "all walks of life; come as you are.",
            "time_zone": "America/Los_Angeles",
            "weekday": 1,
            "start_time": time(19, 0),
            "frequency": Circle.Frequency.WEEKLY,
            "location_kind": Circle.LocationKind.IN_PERSON,
            "public_area": "Mission District, San Francisco",
            "private_address": "Friends Meeting House, 65 Ninth Street, San Francisco\n"
            "Side door, upstairs room",
            "first_night": "Come ten minutes early: there is tea. We sit in a circle, each man "
            "speaks in turn and nobody has to. Listen, say what is true for you tonight, and "
            "what is said here stays here.",
            # Seven men and one request hold the eight seats: the next man waits.
            "capacity": 8,
            "status": Circle.Status.OPEN,
        },
        facilitator=(DEMO_FACILITATOR, "Marcus Reyes"),
        members=[
            (DEMO_MEMBER, "Daniel Kim"),
            ("jorge.alvarez@example.com", "Jorge Alvarez"),
            ("ethan.walsh@example.com", "Ethan Walsh"),
            ("samuel.okafor@example.com", "Samuel Okafor"),
            ("tom.nguyen@example.com", "Tom Nguyen"),
            ("ben.carter@example.com", "Ben Carter"),
        ],
        pending=[
            ("noah.bennett@example.com", "Noah Bennett"),
            ("ravi.shah@example.com", "Ravi Shah"),
        ],
        drifting="ben.carter@example.com",
    ),
    CircleSpec(
        slug="london-online",
        name="London Online Circle",
        fields={
            "description": "Every other Thursday evening, online, for men across the UK.",
            "time_zone": "Europe/London",
            "weekday": 3,
            "start_time": time(20, 0),
            "frequency": Circle.Frequency.BIWEEKLY,
            "location_kind": Circle.LocationKind.ONLINE,
            "public_area": "Online (UK evenings)",
            "video_link": "https://video.example.com/london-circle",
            "capacity": 6,
            "status": Circle.Status.FULL,
        },
        facilitator=("oliver.hughes@example.com", "Oliver Hughes"),
        members=[
            ("james.patel@example.com", "James Patel"),
            ("harry.thompson@example.com", "Harry Thompson"),
            ("george.adeyemi@example.com", "George Adeyemi"),
            ("callum.fraser@example.com", "Callum Fraser"),
            ("rhys.evans@example.com", "Rhys Evans"),
        ],
        pending=[
            ("aidan.clarke@example.com", "Aidan Clarke"),
            ("kwame.mensah@example.com", "Kwame Mensah"),
        ],
    ),
    CircleSpec(
        slug="sydney-harbour",
        name="Sydney Harbour Circle",
        fields={
            "description": "First Saturday morning of the month, in the hall or on video.",
            "time_zone": "Australia/Sydney",
            "weekday": 5,
            "start_time": time(9, 30),
            "duration_minutes": 120,
            "frequency": Circle.Frequency.MONTHLY,
            "week_of_month": 1,
            "location_kind": Circle.LocationKind.HYBRID,
            "public_area": "Inner West, Sydney",
            "private_address": "Marrickville Community Hall, 1 Hall Street, Marrickville",
            "video_link": "https://video.example.com/sydney-harbour",
            "capacity": 8,
            "status": Circle.Status.OPEN,
        },
        facilitator=("liam.oconnor@example.com", "Liam O'Connor"),
        members=[
            ("jack.murray@example.com", "Jack Murray"),
            ("nathan.tran@example.com", "Nathan Tran"),
            ("lachlan.scott@example.com", "Lachlan Scott"),
            ("mateo.silva@example.com", "Mateo Silva"),
        ],
        pending=[("josh.williams@example.com", "Josh Williams")],
    ),
    CircleSpec(
        slug="fathers-circle",
        name="Fathers' Circle",
        fields={
            "description": "Invite-only circle for fathers of young children.",
            "is_listed": False,
            "time_zone": "America/Chicago",
            "weekday": 0,
            "start_time": time(18, 30),
            "frequency": Circle.Frequency.WEEKLY,
            "location_kind": Circle.LocationKind.IN_PERSON,
            "public_area": "Logan Square, Chicago",
            "private_address": "2750 N Milwaukee Ave, back room of the bookshop",
            "capacity": 8,
            "status": Circle.Status.OPEN,
        },
        facilitator=("darnell.brooks@example.com", "Darnell Brooks"),
        members=[
            ("andre.jackson@example.com", "Andre Jackson"),
            ("kevin.mueller@example.com", "Kevin Mueller"),
            ("luis.romero@example.com", "Luis Romero"),
            ("patrick.doyle@example.com", "Patrick Doyle"),
        ],
    ),
]


@dataclass(frozen=True)
class EventSpec:
    slug: str
    fields: dict[str, Any]
    # Local start: weekday (Monday 0) at least `days_ahead` days from today, and how long.
    weekday: int
    days_ahead: int
    start: time
    duration: timedelta
    organisers: list[str]
    # (name, cents, placeholder price id): none is a free event.
    tiers: list[tuple[str, int, str]] = field(default_factory=list)
    questions: list[tuple[str, str]] = field(default_factory=list)
    # (email, tier name or "", payment, {question label: answer}), in the order they came.
    confirmed: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    # (email, tier name or "", {question label: answer}): waiting, in the order they came.
    waitlisted: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


DIETARY, EMERGENCY = "Any dietary needs?", "Who should we call in an emergency?"

EVENTS = [
    EventSpec(
        slug="open-evening-san-francisco",
        fields={
            "title": "Open evening in San Francisco",
            "description": "Curious about sitting in a men's circle? Come and see what it is "
            "like: a short talk, then a real circle you can speak in or just listen to. Free, "
            "no commitment.",
            "time_zone": "America/Los_Angeles",
            "public_area": "Mission District, San Francisco",
            "address": "Friends Meeting House, 65 Ninth Street, San Francisco",
            "joining_details": "Side door, upstairs room. Doors open at 6:45 pm; tea provided.",
            "capacity": 20,
            "visibility": Event.Visibility.PUBLIC,
            "status": Event.Status.OPEN,
        },
        weekday=3,
        days_ahead=9,
        start=time(19, 0),
        duration=timedelta(hours=2, minutes=30),
        organisers=[DEMO_FACILITATOR],
        confirmed=[
            ("noah.bennett@example.com", "", Registration.Payment.FREE, {}),
            ("ravi.shah@example.com", "", Registration.Payment.FREE, {}),
            ("tom.nguyen@example.com", "", Registration.Payment.FREE, {}),
        ],
    ),
    EventSpec(
        slug="weekend-retreat-redwoods",
        fields={
            "title": "Weekend retreat in the redwoods",
            "description": "Two nights away with men from every circle: long circles, "
            "walks among the trees, shared meals and a fire. Pay what you can on the sliding "
            "scale; ask for a free place if money is what keeps you away.",
            "time_zone": "America/Los_Angeles",
            "public_area": "Sonoma County, California",
            "address": "Redwood Hollow Retreat Center, 1200 Cazadero Highway, Cazadero, CA",
            "joining_details": "Arrive from 4 pm on Friday; car shares are arranged by email "
            "the week before. Bring a sleeping bag and warm layers.",
            "capacity": 6,
            "visibility": Event.Visibility.MEMBERS,
            "status": Event.Status.FULL,
        },
        weekday=4,
        days_ahead=35,
        start=time(17, 0),
        duration=timedelta(days=2, hours=-3),
        organisers=[DEMO_ADMIN, DEMO_FACILITATOR],
        tiers=[
            ("Supported", 15000, "price_demo_retreat_supported"),
            ("Standard", 30000, "price_demo_retreat_standard"),
            ("Sponsor", 45000, "price_demo_retreat_sponsor"),
        ],
        questions=[(DIETARY, "dietary"), (EMERGENCY, "emergency_contact")],
        confirmed=[
            (
                DEMO_MEMBER,
                "Standard",
                Registration.Payment.PAID,
                {DIETARY: "Vegetarian", EMERGENCY: "Grace Kim, +1 415 555 0199"},
            ),
            (
                "jorge.alvarez@example.com",
                "Sponsor",
                Registration.Payment.PAID,
                {DIETARY: "None", EMERGENCY: "Lucia Alvarez, +1 415 555 0170"},
            ),
            (
                "oliver.hughes@example.com",
                "Standard",
                Registration.Payment.PAID,
                {DIETARY: "No nuts, please", EMERGENCY: "Emma Hughes, +44 20 7946 0958"},
            ),
            (
                "samuel.okafor@example.com",
                "Supported",
                Registration.Payment.PAID,
                {DIETARY: "None", EMERGENCY: "Ada Okafor, +1 415 555 0133"},
            ),
            (
                "andre.jackson@example.com",
                "Standard",
                Registration.Payment.PAID,
                {DIETARY: "Halal", EMERGENCY: "Tanya Jackson, +1 312 555 0121"},
            ),
            (
                "ethan.walsh@example.com",
                "Supported",
                Registration.Payment.FREE_PLACE,
                {DIETARY: "Gluten free", EMERGENCY: "Mary Walsh, +1 415 555 0155"},
            ),
        ],
        waitlisted=[
            (
                "james.patel@example.com",
                "Standard",
                {DIETARY: "None", EMERGENCY: "Priya Patel, +44 20 7946 0321"},
            ),
            (
                "nathan.tran@example.com",
                "Supported",
                {DIETARY: "Vegan", EMERGENCY: "Linh Tran, +61 2 5550 1234"},
            ),
        ],
    ),
]


class Command(BaseCommand):
    help = (
        "Create demo accounts, circles and meetings (idempotent). "
        "Refuses to run with DEBUG off unless --force."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with a published password; it runs only with "
                "DJANGO_DEBUG on (or --force)."
            )
        with transaction.atomic(), transaction.atomic(using=CREDS_DB):
            before = Notification.objects.order_by("-pk").values_list("pk", flat=True).first()
            accounts, circles, meetings, events = self.seed()
            # The services queue real messages (join requests, cancellations);
            # demo history is not news, so none of them is delivered.
            Notification.objects.filter(pk__gt=before or 0).delete()
        self.stdout.write(
            f"Demo data ready ({accounts} accounts, {circles} circles, "
            f"{meetings} meetings created)."
        )
        self.stdout.write(f"Demo events ready ({events} created): /events/")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  {DEMO_ADMIN:<28} staff + superuser, /admin/")
        self.stdout.write(f"  {DEMO_FACILITATOR:<28} facilitator of {CIRCLES[0].name}, /admin/")
        self.stdout.write(f"  {DEMO_MEMBER:<28} member of {CIRCLES[0].name}, /dashboard/")
        self.stdout.write(
            "Staff also enter a code from an authenticator app (two-factor sign-in).\n"
            f"  Demo key for all staff: {demo_totp_base32()} (add it to the app by hand),\n"
            "  or print the current code: .venv/bin/python manage.py demo_code"
        )

    def seed(self) -> tuple[int, int, int, int]:
        users, accounts = ensure_users()
        ensure_authenticators(u for u in users.values() if u.is_staff or u.is_superuser)
        group, _ = Group.objects.get_or_create(name=FACILITATORS_GROUP)
        group.user_set.add(*(users[spec.facilitator[0]] for spec in CIRCLES))
        ensure_dues_tiers()
        circles = meetings = 0
        for spec in CIRCLES:
            circle, created = Circle.objects.get_or_create(
                slug=spec.slug,
                defaults={
                    "name": spec.name,
                    # Some weeks back, so every other week has a history.
                    "starts_on": _weekday_before(spec, weeks=HISTORY_WEEKS * 2),
                    **spec.fields,
                },
            )
            circles += created
            ensure_members(circle, spec, users)
            if created:
                drifting = users[spec.drifting] if spec.drifting else None
                meetings += seed_history(circle, drifting=drifting)
            meetings += schedule_circle(circle, weeks=DEFAULT_WEEKS)
            if created:
                seed_upcoming(circle)
        events = sum(ensure_event(spec, users) for spec in EVENTS)
        return accounts, circles, meetings, events


def _people() -> list[tuple[str, str, dict[str, Any]]]:
    people: list[tuple[str, str, dict[str, Any]]] = [
        (DEMO_ADMIN, "Demo Admin", {"is_staff": True, "is_superuser": True})
    ]
    for spec in CIRCLES:
        zone = {"time_zone": spec.fields["time_zone"]}
        people.append((*spec.facilitator, {**zone, "is_staff": True}))
        people += [(email, name, zone) for email, name in spec.members + spec.pending]
    return people


def _phone(email: str, now: Any) -> dict[str, Any]:
    if email not in DEMO_PHONES:
        return {}
    return {"phone": DEMO_PHONES[email], "phone_verified_at": now, "sms_reminders": True}


def ensure_users() -> tuple[dict[str, User], int]:
    """Every demo account by email, verified, with the demo password; and how many are new.

    The password is hashed once and the credential rows written in bulk: with
    bcrypt, hashing per user would make the seed take seconds.
    """
    people = _people()
    keys = {email_key(email): email for email, _, _ in people}
    existing = {
        keys[user.email_key]: user for user in User.objects.filter(email_key__in=list(keys))
    }
    now = timezone.now()
    # An admin from an older seed may predate verification.
    User.objects.filter(
        pk__in=[user.pk for user in existing.values()], email_verified_at__isnull=True
    ).update(email_verified_at=now)
    # Demo numbers, verified; an older seed's man without a number gets his.
    for email, phone in DEMO_PHONES.items():
        User.objects.filter(email=email, phone="").update(phone=phone)
        User.objects.filter(email=email, phone=phone, phone_verified_at__isnull=True).update(
            phone_verified_at=now
        )
    new = [
        User(email=email, full_name=name, email_verified_at=now, **extra, **_phone(email, now))
        for email, name, extra in people
        if email not in existing
    ]
    if new:
        User.objects.bulk_create(new)
        hashed = make_password(DEMO_PASSWORD)
        Credential.objects.bulk_create(
            [Credential(user_id=user.pk, password_hash=hashed) for user in new]
        )
    return {**existing, **{user.email: user for user in new}}, len(new)


def ensure_dues_tiers() -> None:
    """The demo's sliding scale, keyed by its placeholder price id (a second run adds none)."""
    for order, (name, cents, description) in enumerate(DEMO_TIERS):
        slug = name.lower().replace(" ", "_")
        DuesTier.objects.get_or_create(
            stripe_price_id=f"price_demo_{slug}",
            defaults={
                "name": name,
                "description": description,
                "amount_cents": cents,
                "currency": "usd",
                "order": order,
            },
        )


def demo_totp_base32() -> str:
    """The demo key as authenticator apps take it typed in."""
    return b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode().rstrip("=")


def ensure_authenticators(staff: Iterable[User]) -> None:
    """Demo staff have two-factor on, with the published demo key.

    A staff account that set up its own authenticator keeps it.
    """
    now = timezone.now()
    for user in staff:
        TOTPDevice.objects.get_or_create(
            user_id=user.pk, defaults={"key": DEMO_TOTP_KEY, "confirmed_at": now}
        )


def _weekday_before(spec: CircleSpec, *, weeks: int) -> date:
    """The circle's weekday, about `weeks` weeks before today (its local today)."""
    zone = zoneinfo.ZoneInfo(spec.fields["time_zone"])
    day = timezone.localdate(timezone=zone) - timedelta(weeks=weeks)
    return day - timedelta(days=(day.weekday() - spec.fields["weekday"]) % 7)


def ensure_members(circle: Circle, spec: CircleSpec, users: dict[str, User]) -> None:
    """Facilitator and members active (in join order), agreements v1 accepted, requests in."""
    if services.current_agreement(circle) is None:
        services.agreement_publish(circle=circle, text=AGREEMENTS)
    agreement = services.current_agreement(circle)
    now = timezone.now()
    people = [(spec.facilitator[0], Membership.Role.FACILITATOR)] + [
        (email, Membership.Role.MEMBER) for email, _ in spec.members
    ]
    for i, (email, role) in enumerate(people):
        # The facilitator first, then a man every week or two.
        joined = now - timedelta(weeks=HISTORY_WEEKS * 2 + 4 - i * 1.5)
        Membership.objects.get_or_create(
            circle=circle,
            user=users[email],
            defaults={
                "role": role,
                "status": Membership.Status.ACTIVE,
                "requested_at": joined - timedelta(days=5),
                "decided_at": joined,
                "joined_at": joined,
                "bio": FACILITATOR_BIO if role == Membership.Role.FACILITATOR else "",
            },
        )
    AgreementAcceptance.objects.bulk_create(
        [AgreementAcceptance(agreement=agreement, user=users[email]) for email, _ in people],
        ignore_conflicts=True,
    )
    for email, _ in spec.pending:
        user = users[email]
        if not Membership.objects.filter(circle=circle, user=user).exists():
            # Through the service, so a full circle puts him on the waitlist.
            asked = services.membership_request(
                circle=circle, user=user, agreement_version=agreement.version
            )
            # Asked some days ago: long enough for the at-risk page to list him.
            Membership.objects.filter(pk=asked.pk).update(requested_at=now - REQUEST_AGE)


def seed_history(circle: Circle, *, drifting: User | None = None) -> int:
    """The last weeks' meetings, held, with RSVPs and attendance; returns how many.

    `drifting` said yes to each of the last few and never came: the at-risk
    page lists him.
    """
    rng = random.Random(circle.slug)  # noqa: S311  (demo data, not security)
    today = timezone.localdate(timezone=circle.zone)
    created = schedule_circle(
        circle, weeks=HISTORY_WEEKS, today=today - timedelta(weeks=HISTORY_WEEKS)
    )
    past = list(
        Meeting.objects.filter(
            circle=circle, status=Meeting.Status.SCHEDULED, ends_at__lte=timezone.now()
        )
    )
    Meeting.objects.filter(pk__in=[m.pk for m in past]).update(status=Meeting.Status.HELD)
    members = list(circle.memberships.active().values_list("user_id", flat=True))
    rsvps: list[RSVP] = []
    present: dict[int, list[int]] = {meeting.pk: [] for meeting in past}
    for meeting in past:
        for user_id in members:
            coming = rng.random() < 0.8
            rsvps.append(
                RSVP(
                    meeting=meeting,
                    user_id=user_id,
                    response=RSVP.Response.YES if coming else RSVP.Response.NO,
                    responded_at=meeting.starts_at - timedelta(hours=rng.randint(4, 72)),
                )
            )
            # Now and then a man says yes and doesn't come: an unexcused absence.
            if coming and rng.random() < 0.9:
                present[meeting.pk].append(user_id)
    RSVP.objects.bulk_create(rsvps, ignore_conflicts=True)
    for meeting in past:
        # Unexcused for everyone, excused for an early "no"; then who came.
        services.attendance_prefill(meeting=meeting)
        Attendance.objects.filter(meeting=meeting, user_id__in=present[meeting.pk]).update(
            status=Attendance.Status.PRESENT
        )
    if drifting is not None:
        recent = sorted(past, key=lambda m: m.starts_at)[-DRIFTING_MISSES:]
        RSVP.objects.filter(meeting__in=recent, user=drifting).update(response=RSVP.Response.YES)
        Attendance.objects.filter(meeting__in=recent, user=drifting).update(
            status=Attendance.Status.UNEXCUSED
        )
    return created


def seed_upcoming(circle: Circle) -> None:
    """A few answers for the next meeting, and one later meeting cancelled."""
    upcoming = list(circle.meetings.upcoming()[:3])
    if not upcoming:
        return
    members = list(circle.memberships.active().select_related("user").order_by("joined_at", "pk"))
    for membership, response in zip(members[:4], ["yes", "yes", "no", "yes"], strict=False):
        services.rsvp_set(
            meeting=upcoming[0],
            user=membership.user,
            response=response,
            channel=RSVP.Channel.WEB,
        )
    if len(upcoming) == 3:
        services.meeting_cancel(
            meeting=upcoming[2], reason="Facilitator away this week: no circle. See you next time."
        )


def ensure_event(spec: EventSpec, users: dict[str, User]) -> bool:
    """The event, its tiers, questions, organisers and registrations; whether it was new.

    Its registrations are rows as the services leave them once settled
    (confirmed, paid or a free place, and a waitlist in the order they came),
    written only when the event is: a second run, or an organiser's changes
    since, are left alone.
    """
    zone = zoneinfo.ZoneInfo(spec.fields["time_zone"])
    day = timezone.localdate(timezone=zone) + timedelta(days=spec.days_ahead)
    day += timedelta(days=(spec.weekday - day.weekday()) % 7)
    starts = timezone.make_aware(datetime.combine(day, spec.start), zone)
    event, created = Event.objects.get_or_create(
        slug=spec.slug,
        defaults={"starts_at": starts, "ends_at": starts + spec.duration, **spec.fields},
    )
    organisers = [users[email] for email in spec.organisers]
    Group.objects.get_or_create(name=ORGANISERS_GROUP)[0].user_set.add(*organisers)
    if not created:
        return False
    event.organisers.add(*organisers)
    if spec.fields.get("status") == Event.Status.FULL:
        # Registration closes a week before a retreat: time to plan the meals.
        event.registration_deadline = starts - timedelta(days=7)
        event.save(update_fields=["registration_deadline"])
    tiers = {
        name: TicketTier.objects.create(
            event=event, name=name, amount_cents=cents, stripe_price_id=price, position=i
        )
        for i, (name, cents, price) in enumerate(spec.tiers)
    }
    questions = {
        label: Question.objects.create(
            event=event, label=label, kind=kind, required=True, position=i
        )
        for i, (label, kind) in enumerate(spec.questions)
    }
    now = timezone.now()
    # As the services leave them: the confirmed first, then the waitlist, each with his
    # tier and answers (a waiting man pays only once a seat is his).
    people = [
        (email, tier, payment, answers, Registration.Status.CONFIRMED, 20)
        for email, tier, payment, answers in spec.confirmed
    ] + [
        (email, tier, "", answers, Registration.Status.WAITLISTED, 5)
        for email, tier, answers in spec.waitlisted
    ]
    for i, (email, tier_name, payment, answers, status, days_ago) in enumerate(people):
        tier = tiers.get(tier_name)
        if not payment:
            payment = Registration.Payment.PENDING if tier else Registration.Payment.FREE
        free = payment in (Registration.Payment.FREE, Registration.Payment.FREE_PLACE)
        registration = Registration.objects.create(
            event=event,
            user=users[email],
            status=status,
            tier=tier,
            amount_cents=0 if tier is None or free else tier.amount_cents,
            payment=payment,
            created_at=now - timedelta(days=days_ago, hours=-i),
        )
        Answer.objects.bulk_create(
            [
                Answer(registration=registration, question=questions[label], value=value)
                for label, value in answers.items()
            ]
        )
    return True
