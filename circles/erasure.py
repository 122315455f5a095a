"""What deleting an account does in circles (registered with accounts.personal_data).

His seats are freed through the same service as leaving, so the waitlist's
first man gets the offer as when anyone leaves. His memberships, RSVPs and
agreement acceptances then go with his user row (cascades); his attendance
stays as anonymous rows (a circle's "present 7 of 9" stays true); his
calendar feed and the facilitators' notes by or about him go from `creds`
(circles.receivers, on any deletion of a user).
"""

from __future__ import annotations

from collections.abc import Collection

from accounts import personal_data
from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from circles.selectors import public_name
from notifications import erasure as messages_erasure

LAST_LEAD = (
    "You are the last facilitator of {circles}. Make another member facilitator (or ask us "
    "to) before deleting your account: a circle keeps someone to run it."
)

# Memberships that hold or wait for a seat: leaving frees it for the waitlist.
SEATED = [
    Membership.Status.ACTIVE,
    Membership.Status.PAUSED,
    Membership.Status.REQUESTED,
    Membership.Status.WAITLISTED,
]


def _to_leave(user: User):
    # A closed circle takes nobody: no seat to hand on, nobody left to run it for.
    return (
        Membership.objects.filter(user=user, status__in=SEATED)
        .exclude(circle__status=Circle.Status.CLOSED)
        .select_related("circle")
        .order_by("circle_id")
    )


def check(user: User) -> None:
    """Refuse while he is the last one running a circle (he hands it over first)."""
    stuck = []
    for membership in _to_leave(user):
        try:
            services._keep_a_facilitator(membership.circle, membership, new_role=None)
        except services.CircleError:
            stuck.append(membership.circle.name)
    if stuck:
        raise personal_data.ErasureError(LAST_LEAD.format(circles=", ".join(stuck)))


def erase(user: User) -> None:
    """Leave every circle through the services, and forget the messages that name him."""
    for membership in _to_leave(user):
        try:
            services.membership_leave(membership=membership)
        except services.CircleError as error:  # a co-facilitator left since the check
            raise personal_data.ErasureError(error.message) from error
    # A join request told his circles' facilitators his name (first name and
    # initial: precise enough to search for only with the initial).
    name = public_name(user)
    memberships = Membership.objects.filter(user=user).values_list("pk", flat=True)
    # The daily reminders list several men, each by his request's answer link.
    links = [f"/admin/circles/membership/{pk}/answer/" for pk in memberships]
    messages_erasure.bodies_forget(
        naming=([name] if name.endswith(".") else []) + links,
        subject_prefixes=[f"membership:{pk}:" for pk in memberships],
    )


def holds(user_ids: Collection[int]) -> set[int]:
    """Accounts with any membership (even a request or a place on a waitlist)."""
    return set(Membership.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))


def register() -> None:
    personal_data.eraser("circles", check=check, erase=erase, holds=holds)
