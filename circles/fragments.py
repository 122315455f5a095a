"""Parts of pages made once and then served from the cache (circles.caching).

A part's key names the scopes it is made from and, for anything personal, the
man it was made for; what differs from one request to the next stays out of
it. The CSRF token is one such thing (it changes when he signs in again): a
part is rendered with a placeholder that each request replaces with its own
token, so a cached form never carries a stale or another man's token.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from billing.selectors import dues_line
from circles import caching, selectors
from circles.models import Circle, Meeting, Membership


def render_part(template: str, context: dict[str, object]) -> str:
    return render_to_string(template, {**context, "csrf_token": caching.csrf_placeholder()})


def serve_part(request: HttpRequest, html: str) -> SafeString:
    return mark_safe(caching.with_token(request, html))  # noqa: S308


def seconds_fresh(moments: list[datetime | None]) -> int:
    """Until the first of these is past (a meeting over, an offer run out), at most TIMEOUT."""
    soonest = min((m for m in moments if m is not None), default=None)
    if soonest is None:
        return caching.TIMEOUT
    return min(caching.TIMEOUT, int((soonest - timezone.now()).total_seconds()))


def dashboard(request: HttpRequest) -> tuple[SafeString, str]:
    """His dashboard's sections and his dues line.

    From the database: his memberships and his circles' next meetings (two
    queries, his dues riding on the first). From the cache: the sections, made
    for him on the generations of his own scope (which circles are his) and of
    each of his circles, and his dues line, made on his dues scope, which every
    save of his subscription (dj-stripe's webhook processing), waiver or
    offline payment bumps, so a payment shows on his next request.
    """
    user = request.user
    loaded: dict[str, object] = {}

    def load() -> dict[str, object]:
        if not loaded:
            loaded.update(selectors.dashboard(user))
        return loaded

    def make() -> str:
        return render_part("circles/fragment_dashboard.html", {**load(), "user": user})

    mine = caching.user_scope(user.pk)
    circle_ids = caching.cached(
        "dashboard-circles", lambda: load()["circle_ids"], scopes=[mine], user=user.pk
    )
    if loaded:
        # Read before the generations of his circles were: a write in between
        # would be missed under them, so nothing made from these rows is kept.
        html = make()
    else:
        html = caching.cached(
            "dashboard",
            make,
            scopes=[mine, *(caching.circle_scope(pk) for pk in circle_ids)],
            user=user.pk,
            vary=f"{user.time_zone}|{timezone.localdate()}",
            timeout=lambda _html: seconds_fresh(
                [m.ends_at for m in loaded["meetings"]]
                + [m.offer_expires_at for m in loaded["pending"]]
            ),
        )
    if loaded:
        dues = loaded["dues"]
    else:
        dues = caching.cached(
            "dues",
            lambda: dues_line(user),
            scopes=[caching.dues_scope(user.pk), caching.SITE],
            user=user.pk,
            vary=str(timezone.localdate()),
        )
    return serve_part(request, html), dues


def circle_page(circle: Circle, membership: Membership | None) -> dict[str, object]:
    """What the circle page shows this viewer: members see more than the public.

    Two cached parts, each the same for everyone who may see it: the public one
    (the dues range too, hence SITE) and the members' one (served only once
    his own membership, read fresh, says he is an active member). What is his
    alone (his place on the waitlist, his acceptance) came with his membership.
    """
    scope = caching.circle_scope(circle.pk)
    public = caching.cached(
        "circle-public",
        lambda: selectors.circle_public(circle),
        scopes=[scope, caching.SITE],
        timeout=lambda part: seconds_fresh([ends(part["next_meeting"])]),
    )
    _shown_in(circle, [public["next_meeting"]])
    is_member = membership is not None and membership.status == Membership.Status.ACTIVE
    context = {
        **public,
        "is_member": is_member,
        "waitlist_position": getattr(membership, "position", None),
    }
    if is_member:
        members = caching.cached(
            "circle-members",
            lambda: selectors.circle_for_members(circle),
            scopes=[scope],
            timeout=lambda part: seconds_fresh([m.ends_at for m in part["upcoming"]]),
        )
        _shown_in(circle, members["upcoming"])
        context.update(members, needs_acceptance=membership.needs_acceptance)
    return context


def ends(meeting: Meeting | None) -> datetime | None:
    return meeting.ends_at if meeting else None


def _shown_in(circle: Circle, meetings: list[Meeting | None]) -> None:
    # A cached meeting is shown with the circle as this request read it (its time zone).
    for meeting in meetings:
        if meeting is not None:
            meeting.circle = circle


def meeting_page(meeting: Meeting, user: User) -> dict[str, object]:
    """Who is coming (cached: the same for every member) and what is his alone."""
    answers = caching.cached(
        "meeting-answers",
        lambda: selectors.meeting_answers(meeting),
        scopes=[caching.circle_scope(meeting.circle_id)],
        vary=str(meeting.pk),
    )
    return {**answers, **selectors.meeting_for_him(meeting, user)}
