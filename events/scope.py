"""Who organises which events: the admin's scope and the organiser-only actions' check.

An event is organised by its organisers (staff in the "Organisers" group named
on the event) and, for a circle's event, by that circle's facilitators and
co-facilitators; superusers organise every event. Anyone else organises none.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from circles.models import Membership
from events.models import Event


def organised_filter(user: User) -> Q:
    """The events `user` organises, as a filter on Event (not for superusers: they have all)."""
    facilitated = Membership.objects.facilitating().filter(user_id=user.pk).values("circle_id")
    return Q(
        pk__in=Event.organisers.through.objects.filter(user_id=user.pk).values("event_id")
    ) | Q(circle_id__in=facilitated)


def organised_events(user: User) -> QuerySet[Event]:
    if user.is_superuser:
        return Event.objects.all()
    if not user.is_active or not user.is_staff:
        return Event.objects.none()
    return Event.objects.filter(organised_filter(user))


def organises(user: User, event: Event) -> bool:
    """Whether `user` may run `event` (see its men, message them, check them in)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.is_staff:
        return False
    return organised_events(user).filter(pk=event.pk).exists()
