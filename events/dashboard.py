"""His registrations on the dashboard (circles.dashboard's registry), cached for him.

Made from one query and kept (circles.caching) on two scopes: his own
registrations (`events-user:<id>`, bumped by every save or delete of one of
his) and every event (`events`, bumped by any event's save or delete: a title,
a time or a cancellation shows here). It lives no longer than until the first
event on it is over or the first hold or seat offer on it runs out.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest

from circles import caching, fragments
from events import selectors
from events.models import Event, Registration

EVENTS = "events"


def user_scope(user_id: int) -> str:
    return f"events-user:{user_id}"


def section(request: HttpRequest) -> dict[str, object]:
    user = request.user
    registrations = caching.cached(
        "events-dashboard",
        lambda: selectors.dashboard_registrations(user),
        scopes=[user_scope(user.pk), EVENTS],
        user=user.pk,
        timeout=lambda rows: fragments.seconds_fresh(
            [r.event.ends_at for r in rows]
            + [r.hold_expires_at for r in rows]
            + [r.offer_expires_at for r in rows]
        ),
    )
    return {"registrations": registrations}


def _bump_registration(sender: type, instance: Registration, **kwargs: object) -> None:
    caching.bump(user_scope(instance.user_id))


def bump_all() -> None:
    """Every man's section forgets itself (after an update() across men, or any event's write)."""
    caching.bump(EVENTS)


def _bump_event(sender: type, instance: Event, **kwargs: object) -> None:
    bump_all()


def connect() -> None:
    """Called once from the app's ready(); services bump after an update() themselves."""
    for signal in (post_save, post_delete):
        signal.connect(
            _bump_registration, sender=Registration, dispatch_uid=f"events.dash.r.{signal}"
        )
        signal.connect(_bump_event, sender=Event, dispatch_uid=f"events.dash.e.{signal}")
