"""Reads for pages and the API, each a fixed number of queries whatever the data size."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import zones
from accounts.models import User
from billing.models import DuesTier
from billing.selectors import dues_line, dues_line_columns, dues_line_from
from circles.models import (
    RSVP,
    SEARCH_CONFIG,
    Agreement,
    AgreementAcceptance,
    CalendarFeed,
    Circle,
    Meeting,
    Membership,
    search_vector,
)


def public_name(user: User) -> str:
    """First name and last initial: all that non-members ever see of a man."""
    parts = (user.full_name or "").split()
    first = user.display_name or (parts[0] if parts else "Member")
    initial = f" {parts[-1][0].upper()}." if len(parts) > 1 else ""
    return f"{first}{initial}"


def _facilitators() -> Prefetch:
    return Prefetch(
        "memberships",
        queryset=Membership.objects.facilitating().select_related("user").order_by("role", "pk"),
        to_attr="facilitator_memberships",
    )


# What a directory card (and the API's public circle) shows: nothing else is read.
DIRECTORY_COLUMNS = (
    "name",
    "slug",
    "description",
    "capacity",
    "status",
    "time_zone",
    "weekday",
    "start_time",
    "duration_minutes",
    "frequency",
    "week_of_month",
    "location_kind",
    "public_area",
)
# A query's first words only, and each of them whole: enough for any real search.
SEARCH_MAX_CHARS = 200
SEARCH_MAX_WORDS = 8
_WORD = re.compile(r"\w+")


def search_words(q: str | None) -> list[str]:
    """The words of a search, lower-cased: letters and digits of any script, nothing else.

    Everything else (quotes, operators, punctuation) is a separator, so no
    input can reach the query syntax of the search engine. NFKC first, so a
    phone keyboard's full-width letters are plain ones; a look-alike from
    another script (a Cyrillic "o" in "oak") stays what it is and finds nothing.
    """
    text = unicodedata.normalize("NFKC", (q or "")[:SEARCH_MAX_CHARS])
    return [w.lower() for w in _WORD.findall(text)][:SEARCH_MAX_WORDS]


def search_circles(circles: QuerySet[Circle], q: str | None) -> QuerySet[Circle]:
    """Circles whose name, public area or description hold every word of `q` (as a prefix).

    PostgreSQL: full-text search over `circles.models.search_vector()`, the
    expression the GIN index holds, English stemming, each word a prefix
    ("brook" finds Brooklyn). SQLite (the embedded default): each word
    somewhere in one of the three fields.
    """
    words = search_words(q)
    if not words:
        return circles if not (q or "").strip() else circles.none()
    if connection.vendor == "postgresql":
        # Only \w characters reach the raw query: each word a prefix, all required.
        raw = " & ".join(f"{word}:*" for word in words)
        query = SearchQuery(raw, search_type="raw", config=SEARCH_CONFIG)
        return circles.alias(search=search_vector()).filter(search=query)
    for word in words:
        anywhere = Q(name__icontains=word) | Q(public_area__icontains=word)
        circles = circles.filter(anywhere | Q(description__icontains=word))
    return circles


def _in_zone(circles: QuerySet[Circle], time_zone: str | None) -> QuerySet[Circle]:
    """`time_zone` is a zone ("Europe/London") or a whole region ("Europe")."""
    if not time_zone:
        return circles
    if "/" in time_zone or time_zone == zones.FALLBACK:
        return circles.filter(time_zone=time_zone)
    return circles.filter(time_zone__startswith=f"{time_zone}/")


def listed_circles() -> QuerySet[Circle]:
    """The circles anyone may find: listed, and not closed."""
    return Circle.objects.filter(is_listed=True).exclude(status=Circle.Status.CLOSED)


def directory(
    *,
    q: str | None = None,
    weekday: int | None = None,
    kind: str | None = None,
    open_seats: bool = False,
    time_zone: str | None = None,
) -> QuerySet[Circle]:
    """Listed circles a man could ask to join, with `seats_held` and facilitators.

    Only the columns a listing shows (`DIRECTORY_COLUMNS`); ordered by name,
    then id: a stable order to page through.
    """
    circles = search_circles(listed_circles(), q)
    if weekday is not None:
        circles = circles.filter(weekday=weekday)
    if kind == "online":
        circles = circles.filter(location_kind__in=["online", "hybrid"])
    elif kind == "in_person":
        circles = circles.filter(location_kind__in=["in_person", "hybrid"])
    circles = _in_zone(circles, time_zone)
    circles = circles.with_seats_held().prefetch_related(_directory_facilitators())
    if open_seats:
        circles = circles.filter(seats_held__lt=F("capacity"))
    return circles.only(*DIRECTORY_COLUMNS).order_by("name", "pk")


def _directory_facilitators() -> Prefetch:
    """Facilitators as a listing names them: the man's names and the role, no more."""
    return Prefetch(
        "memberships",
        queryset=Membership.objects.facilitating()
        .select_related("user")
        .only("circle_id", "role", "user", "user__full_name", "user__display_name")
        .order_by("role", "pk"),
        to_attr="facilitator_memberships",
    )


def directory_zones() -> list[str]:
    """The time zones the listed circles meet in, for the directory's filter."""
    return list(
        listed_circles().order_by("time_zone").values_list("time_zone", flat=True).distinct()
    )


def circle_detail(slug: str) -> Circle | None:
    return (
        Circle.objects.filter(slug=slug).with_seats_held().prefetch_related(_facilitators()).first()
    )


def circle_and_membership(user: User, slug: str) -> tuple[Circle | None, Membership | None]:
    """The circle and his membership in it, with his place on its waitlist and whether
    its current agreements wait for his acceptance: one query (two if he has none)."""
    if user.is_authenticated:
        membership = (
            Membership.objects.filter(user=user, circle__slug=slug)
            .select_related("circle")
            .annotate(position=_waitlist_position(), needs_acceptance=_needs_acceptance())
            .first()
        )
        if membership is not None:
            return membership.circle, membership
    return Circle.objects.filter(slug=slug).first(), None


def _waitlist_position() -> Case:
    """A membership's place on its circle's waitlist (as waitlist_position() counts); None
    for any other status."""
    ahead = (
        Membership.objects.filter(circle=OuterRef("circle"), status=Membership.Status.WAITLISTED)
        .filter(
            Q(requested_at__lt=OuterRef("requested_at"))
            | Q(requested_at=OuterRef("requested_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("circle")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Case(When(status=Membership.Status.WAITLISTED, then=Coalesce(Subquery(ahead), 0) + 1))


def _needs_acceptance() -> ExpressionWrapper:
    """Whether the circle has agreements and its member has not accepted the current ones."""

    def current(circle: OuterRef) -> QuerySet[Agreement]:
        return Agreement.objects.filter(circle=circle).order_by("-version").values("pk")[:1]

    accepted = AgreementAcceptance.objects.filter(
        user=OuterRef("user"), agreement=Subquery(current(OuterRef(OuterRef("circle"))))
    )
    return ExpressionWrapper(
        Exists(current(OuterRef("circle"))) & ~Exists(accepted), output_field=BooleanField()
    )


def roster(circle: Circle) -> QuerySet[Membership]:
    return circle.memberships.active().select_related("user").order_by("role", "joined_at", "pk")


def waitlist_position(membership: Membership) -> int | None:
    if membership.status != Membership.Status.WAITLISTED:
        return None
    ahead = membership.circle.memberships.waitlist().filter(
        Q(requested_at__lt=membership.requested_at)
        | Q(requested_at=membership.requested_at, pk__lt=membership.pk)
    )
    return ahead.count() + 1


def circle_public(circle: Circle) -> dict[str, object]:
    """What the circle page shows anyone who may see the circle: the same for all of them."""
    # Its capacity read again with the seats: the circle passed in may be older than the
    # generation this is cached under.
    capacity, held, someone_waits = (
        Circle.objects.filter(pk=circle.pk)
        .with_seats_held()
        .annotate(waits=Exists(Membership.objects.waitlist().filter(circle=OuterRef("pk"))))
        .values_list("capacity", "seats_held", "waits")
        .get()
    )
    facilitators = (
        circle.memberships.facilitating()
        .select_related("user")
        .only("role", "bio", "circle_id", "user__full_name", "user__display_name")
        .order_by("role", "pk")
    )
    return {
        "facilitators": [
            {"name": public_name(m.user), "bio": m.bio, "role": m.get_role_display()}
            for m in facilitators
        ],
        # The date of the next meeting is no secret: the schedule is public.
        "next_meeting": circle.meetings.upcoming().first(),
        "dues_range": dues_range(),
        "seats_free": max(capacity - held, 0),
        # As services.membership_request decides (joins_waitlist()).
        "joins_waitlist": someone_waits or held >= capacity,
    }


def circle_for_members(circle: Circle) -> dict[str, object]:
    """What the circle page adds for its active members: the same for each of them."""
    return {
        "agreement": circle.agreements.order_by("-version").first(),
        "roster": list(
            roster(circle).only(
                "role",
                "share_email",
                "share_phone",
                "circle_id",
                "user__full_name",
                "user__display_name",
                "user__email",
                "user__phone",
            )
        ),
        "upcoming": list(
            circle.meetings.filter(
                status__in=[Meeting.Status.SCHEDULED, Meeting.Status.CANCELLED],
                ends_at__gt=timezone.now(),
            )
            .order_by("starts_at")
            .select_related("leader")
            .only(*MEETING_SHOWN, "leader__full_name", "leader__display_name")[:5]
        ),
    }


# What a meeting in a list shows (with its circle's, and its leader's name).
MEETING_SHOWN = ("circle_id", "starts_at", "ends_at", "status", "cancel_reason", "leader_id")


def joins_waitlist(circle: Circle) -> bool:
    """Whether a man asking now would join the waitlist (as services.membership_request decides)."""
    held = getattr(circle, "seats_held", None)  # annotated by circle_detail()
    if held is None:
        held = circle.memberships.holding_seats().count()
    # Always the same one query, full or not: the page's query count stays fixed.
    someone_waits = circle.memberships.waitlist().exists()
    return someone_waits or held >= circle.capacity


def join_page(circle: Circle, membership: Membership | None) -> dict[str, object]:
    """What the join page tells him: a request for the facilitator, or the waitlist."""
    return {
        "joins_waitlist": joins_waitlist(circle),
        "waiting_count": circle.memberships.waitlist().count(),
        "pending": membership is not None
        and membership.status in (Membership.Status.REQUESTED, Membership.Status.WAITLISTED),
    }


# A membership in one of these is over: no longer on his dashboard.
ENDED = (Membership.Status.LEFT, Membership.Status.DECLINED, Membership.Status.EXPIRED)


def dashboard(user: User) -> dict[str, object]:
    """A member's home in two queries: his memberships, with his circles, his place on
    each waitlist and his dues; then his circles' next meetings, with his RSVP.

    Cancelled meetings stay listed (as cancelled, with the reason), so a meeting
    never just vanishes from his list. `circle_ids`: every circle shown.
    """
    memberships = list(
        Membership.objects.filter(user=user)
        .exclude(status__in=ENDED)
        .select_related("circle")
        .annotate(
            position=_waitlist_position(),
            **dues_line_columns(user.pk),
        )
        .order_by("circle__name", "pk")
    )
    # His dues came with his memberships; a man with none needs their own query.
    dues = dues_line_from(memberships[0]) if memberships else dues_line(user)
    return {
        "meetings": _next_meetings(
            user, {m.circle_id: m.circle for m in memberships if m.status == "active"}
        ),
        "active": [m for m in memberships if m.status in ("active", "paused")],
        "pending": [m for m in memberships if m.status in ("requested", "waitlisted")],
        "dues": dues,
        "circle_ids": sorted({m.circle_id for m in memberships}),
    }


def _next_meetings(user: User, circles: dict[int, Circle], limit: int = 5) -> list[Meeting]:
    if not circles:
        return []
    answer = RSVP.objects.filter(meeting=OuterRef("pk"), user=user).values("response")[:1]
    meetings = list(
        Meeting.objects.filter(
            circle_id__in=list(circles),
            status__in=[Meeting.Status.SCHEDULED, Meeting.Status.CANCELLED],
            ends_at__gt=timezone.now(),
        )
        .annotate(my_rsvp=Subquery(answer))
        .order_by("starts_at", "pk")[:limit]
    )
    for meeting in meetings:
        meeting.circle = circles[meeting.circle_id]  # loaded with his memberships
    return meetings


def my_rsvp(meeting: Meeting, user: User) -> str | None:
    return meeting.rsvps.filter(user=user).values_list("response", flat=True).first()


def _his_meeting(user: User, pk: int) -> QuerySet[Meeting]:
    """The meeting if it is one of his active circles' (past or cancelled too), else none."""
    return Meeting.objects.filter(
        pk=pk, circle__memberships__user=user, circle__memberships__status=Membership.Status.ACTIVE
    )


def my_meeting(user: User, pk: int) -> Meeting | None:
    """_his_meeting(), with its circle, its leader and his answer as `my_rsvp`: one query."""
    answer = RSVP.objects.filter(meeting=OuterRef("pk"), user=user).values("response")[:1]
    meeting = _his_meeting(user, pk).select_related("circle", "leader")
    return meeting.annotate(my_rsvp=Subquery(answer)).first()


def meeting_answers(meeting: Meeting) -> dict[str, object]:
    """Who is coming, by name: the same for every member who may see the meeting."""
    answers = meeting.rsvps.select_related("user").only(
        "response", "meeting_id", "user__full_name", "user__display_name"
    )
    answers = list(answers.order_by("responded_at", "pk"))
    coming = [public_name(r.user) for r in answers if r.response == RSVP.Response.YES]
    not_coming = [public_name(r.user) for r in answers if r.response == RSVP.Response.NO]
    return {
        "coming": coming,
        "not_coming": not_coming,
        "yes_count": len(coming),
        "no_count": len(not_coming),
    }


def meeting_for_him(meeting: Meeting, user: User) -> dict[str, object]:
    """What only he sees on a meeting page (his answer is `meeting.my_rsvp`)."""
    return {
        "leader_name": public_name(meeting.leader) if meeting.leader else None,
        "is_leader": meeting.leader_id is not None and meeting.leader_id == user.pk,
    }


def dues_range() -> dict[str, object] | None:
    """The sliding scale's lowest and highest monthly amount (active tiers), or None."""
    # A scale has a handful of tiers: one query for all of them (in the treasurers' order).
    tiers = list(DuesTier.objects.filter(is_active=True).values_list("amount_cents", "currency"))
    if not tiers:
        return None
    amounts = [amount for amount, _ in tiers]
    currency = (tiers[0][1] or "usd").upper()
    return {"low": min(amounts) / 100, "high": max(amounts) / 100, "currency": currency}


def has_calendar_feed(user: User) -> bool:
    return CalendarFeed.objects.filter(user_id=user.pk).exists()


def calendar_meetings(user: User) -> list[Meeting]:
    """His circles' meetings from a week ago on, cancelled ones too (calendars drop them)."""
    return list(
        Meeting.objects.filter(
            circle__memberships__user=user,
            circle__memberships__status=Membership.Status.ACTIVE,
            ends_at__gt=timezone.now() - timedelta(days=7),
        )
        .select_related("circle")
        .order_by("starts_at")[:200]
    )


# --- For the API (circles.api) ----------------------------------------------------------


def api_active_circle_ids(user: User) -> set[int]:
    """The circles whose private details `user` may see: those he is an active member of."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.active().filter(user=user).values_list("circle_id", flat=True))


def api_attach_rosters(circles: list[Circle]) -> None:
    """Each circle's active members as `roster_memberships`: one query for all the circles."""
    prefetch_related_objects(
        circles,
        Prefetch(
            "memberships",
            queryset=Membership.objects.active()
            .select_related("user")
            .order_by("role", "joined_at", "pk"),
            to_attr="roster_memberships",
        ),
    )


def api_my_meetings(user: User) -> QuerySet[Meeting]:
    """Meetings of his active circles not over yet, cancelled ones too, with `my_rsvp`."""
    answer = RSVP.objects.filter(meeting=OuterRef("pk"), user=user).values("response")[:1]
    return (
        Meeting.objects.filter(
            ends_at__gt=timezone.now(),
            circle__in=Membership.objects.active().filter(user=user).values("circle_id"),
        )
        .select_related("circle", "leader")
        .annotate(my_rsvp=Subquery(answer))
        .order_by("starts_at", "pk")
    )


def api_my_meeting(user: User, pk: int) -> Meeting | None:
    """A meeting of one of his active circles, past or cancelled too; None for any other."""
    return _his_meeting(user, pk).select_related("circle").first()
