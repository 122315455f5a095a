"""Reads about events for pages and the API, each a fixed number of queries.

Who sees an event (`visible_events`): a public event everyone; a members-only
event every signed-in man; a circle's event that circle's members (active or
paused, its facilitators among them), the event's organisers, staff in the
"Organisers" group and superusers. A man registered for an event (not
cancelled) keeps seeing it, whatever changed since, so he can still cancel.
Drafts only its organisers, on its own page (a preview), never in a listing.
Who organises it (`is_organiser`): the men named on it, for a circle's event
that circle's facilitators, and superusers.
Only the men registered for it (confirmed) and its organisers read its
address and joining details.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from circles.models import SEARCH_CONFIG, Membership
from circles.selectors import search_words
from events.groups import GROUP as ORGANISERS
from events.models import Answer, Event, Registration, search_vector

# What a listing card (and the API's list) shows: nothing else is read.
LISTING_COLUMNS = (
    "slug",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "time_zone",
    "public_area",
    "capacity",
    "visibility",
    "status",
    "registration_deadline",
    "circle_id",
)


def _organises(user: User) -> Exists:
    return Exists(Event.organisers.through.objects.filter(event_id=OuterRef("pk"), user_id=user.pk))


def _facilitates(user: User) -> Exists:
    return Exists(
        Membership.objects.facilitating().filter(circle_id=OuterRef("circle_id"), user=user)
    )


def _in_group(user: User) -> Exists:
    return Exists(Group.objects.filter(user=user.pk, name=ORGANISERS))


def visible_events(user: User, *, drafts: bool = False) -> QuerySet[Event]:
    """The events he may see (see the module's docstring); drafts only if he organises them
    and `drafts` is asked for (an event's own page)."""
    events = Event.objects.all()
    if not user.is_authenticated:
        return events.filter(visibility=Event.Visibility.PUBLIC).exclude(status=Event.Status.DRAFT)
    organises = _organises(user) | Q(visibility=Event.Visibility.CIRCLE) & _facilitates(user)
    if user.is_superuser:
        seen = Q(pk__isnull=False)
        organises = Q(pk__isnull=False)
    else:
        in_circle = Exists(
            Membership.objects.members().filter(circle_id=OuterRef("circle_id"), user=user)
        )
        seen = (
            Q(visibility__in=[Event.Visibility.PUBLIC, Event.Visibility.MEMBERS])
            | Q(visibility=Event.Visibility.CIRCLE) & in_circle
            | organises
            | _in_group(user)
            | Exists(Registration.objects.live().filter(event_id=OuterRef("pk"), user=user))
        )
    not_draft = ~Q(status=Event.Status.DRAFT)
    return events.filter(seen & (not_draft | organises) if drafts else seen & not_draft)


def can_see(user: User, event: Event) -> bool:
    return visible_events(user).filter(pk=event.pk).exists()


def is_organiser(user: User, event: Event) -> bool:
    """He organises it: named on it, facilitates its circle, or a superuser."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Event.objects.filter(
        Q(pk=event.pk) & (_organises(user) | Q(circle__isnull=False) & _facilitates(user))
    ).exists()


def search_events(events: QuerySet[Event], q: str | None) -> QuerySet[Event]:
    """Events whose title, public area or description hold every word of `q` (as a prefix).

    As circles' directory (circles.selectors.search_circles): PostgreSQL full-text
    search over `events.models.search_vector()`, the GIN index's expression;
    SQLite (the embedded default): each word in one of the three fields.
    """
    words = search_words(q)
    if not words:
        return events if not (q or "").strip() else events.none()
    if connection.vendor == "postgresql":
        # Only \w characters reach the raw query: each word a prefix, all required.
        raw = " & ".join(f"{word}:*" for word in words)
        query = SearchQuery(raw, search_type="raw", config=SEARCH_CONFIG)
        return events.alias(search=search_vector()).filter(search=query)
    for word in words:
        anywhere = Q(title__icontains=word) | Q(public_area__icontains=word)
        events = events.filter(anywhere | Q(description__icontains=word))
    return events


def listing(user: User, q: str | None = None) -> QuerySet[Event]:
    """Upcoming events he may see, soonest first, with `seats_taken`: what /events/ pages."""
    events = visible_events(user).upcoming().exclude(status=Event.Status.CANCELLED)
    return (
        search_events(events, q)
        .with_seats_taken()
        .only(*LISTING_COLUMNS)
        .order_by("starts_at", "pk")
    )


def event_page(user: User, slug: str) -> Event | None:
    """The event if he may see it (drafts to its organisers), with `seats_taken`, its tiers
    and questions: three queries."""
    return (
        visible_events(user, drafts=True)
        .filter(slug=slug)
        .with_seats_taken()
        .select_related("circle")
        .prefetch_related("tiers", "questions")
        .first()
    )


def my_registration(user: User, event: Event) -> Registration | None:
    """His live registration for the event (not cancelled), with his answers, or None."""
    if not user.is_authenticated:
        return None
    return (
        Registration.objects.live()
        .filter(event=event, user=user)
        .select_related("tier")
        .prefetch_related(
            Prefetch(
                "answers", queryset=Answer.objects.select_related("question"), to_attr="my_answers"
            )
        )
        .first()
    )


def waitlist_position(registration: Registration) -> int | None:
    """His place on the event's waitlist (1 is next), or None if he is not waiting."""
    if registration.status != Registration.Status.WAITLISTED:
        return None
    ahead = registration.event.registrations.waitlist().filter(
        Q(created_at__lt=registration.created_at)
        | Q(created_at=registration.created_at, pk__lt=registration.pk)
    )
    return ahead.count() + 1


def sees_private(registration: Registration | None, organiser: bool) -> bool:
    """The address and joining details: to the men confirmed and to organisers."""
    return organiser or (
        registration is not None and registration.status == Registration.Status.CONFIRMED
    )


def dashboard_registrations(user: User) -> list[Registration]:
    """His live registrations for events not over yet, soonest first: one query."""
    return list(
        Registration.objects.live()
        .filter(user=user, event__ends_at__gt=timezone.now())
        .select_related("event")
        .order_by("event__starts_at", "pk")
    )
