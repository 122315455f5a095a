"""Every write about circles: joining, seats, agreements, RSVPs, attendance.

Seat rules: who holds a seat is `MembershipQuerySet.holding_seats()` (active
and paused members, pending requests, live seat offers) and nowhere else.
Every change of who holds a seat locks the circle row first (SELECT ... FOR
UPDATE on PostgreSQL), so concurrent requests for the last seat never exceed
the capacity; `seat_offer_next` takes that lock itself. The waitlist comes
first: while anyone waits on it, a newcomer joins its back and a free seat is
offered to the first man waiting (`membership_request`).
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import urlsafe_b64encode
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import zones
from accounts.models import User
from circles import caching, messages
from circles.models import (
    RSVP,
    Agreement,
    AgreementAcceptance,
    Attendance,
    CalendarFeed,
    Circle,
    Meeting,
    Membership,
)

OFFER_HOURS = 72
# A request unanswered this long stops holding a seat (expire_join_requests).
REQUEST_DAYS = 14
# What a newcomer is told, and when his circle's facilitators start getting a daily
# reminder of his request (requests_nudge, from expire_join_requests).
ANSWER_DAYS = 3
# A request waiting this long is also in the superusers' daily reminder.
OVERDUE_DAYS = 7
# After leaving a circle or being declined, a man waits this long to ask it again.
COOL_DOWN_DAYS = 7
# Requests (and waitlist places) one man may have open at once, across circles.
MAX_OPEN_REQUESTS = 3

NOT_VERIFIED = "Please verify your email address before asking to join a circle."
NOT_JOINABLE = "This circle is not taking new members."
ALREADY_MEMBER = "You are already in this circle."
ALREADY_ASKED = "You have already asked to join this circle."
MUST_ACCEPT = "Please read and accept the circle's agreements."
AGREEMENT_CHANGED = "The agreements changed while you were reading them. Please read them again."
CIRCLE_FULL = "The circle is full: no seat is free for this request."
ON_THE_WAITLIST = (
    "You are on the waitlist: seats go to the men waiting in the order they asked, "
    "and we will write to you when one is yours."
)
NOT_PENDING = "This request is no longer waiting for a decision."
INTRODUCTION_MAX = 1000
INTRODUCTION_TOO_LONG = f"Please keep your introduction under {INTRODUCTION_MAX} characters."
PENDING = (Membership.Status.REQUESTED, Membership.Status.WAITLISTED)
REQUEST_SENT = "Your request is sent to the facilitator. We emailed you what happens next."
WITHDRAWN = "You withdrew your request to join {circle}."
NOTHING_TO_WITHDRAW = "You have no request or waitlist place in this circle to withdraw."
NO_OFFER = "There is no seat offer to answer, or it has expired."
NOT_A_MEMBER = "Only active members of this circle can do that."
NEEDS_ACCEPTANCE = "The circle's agreements changed: please accept them before you RSVP."
MEETING_CLOSED = "This meeting can no longer take RSVPs."
NOT_CANCELLABLE = "Only a scheduled meeting can be cancelled."
NOT_MEMBER_TO_LEAVE = "You are not in this circle."
ZONE_FROM_CIRCLE = (
    "Times are now shown in {zone}, the circle's; change your time zone in your settings."
)
NOT_REINSTATABLE = "Only a cancelled meeting that has not started yet can be reinstated."
COOLING_DOWN = "You can ask to join this circle again from {when}."
TOO_MANY_OPEN = (
    f"You are already waiting on {MAX_OPEN_REQUESTS} circles (a request or a waitlist "
    "place). You can ask another once one of them is settled."
)
FEED_NOT_VERIFIED = "Verify your email address before making a calendar link."
LAST_FACILITATOR = (
    "A circle keeps at least one lead facilitator: make another member facilitator first."
)
ROLE_NOT_YOURS = (
    "Only a superuser changes roles; a circle's lead facilitator may make an active member "
    "co-facilitator."
)
UNKNOWN_ROLE = "Choose member, co-facilitator or facilitator."
REMOVE_NOT_YOURS = "Only a superuser or the circle's lead facilitator can remove a facilitator."


class CircleError(Exception):
    """A request that can't be done; `message` is shown to the person as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Reads the writes depend on ---------------------------------------------------------


def current_agreement(circle: Circle) -> Agreement | None:
    return circle.agreements.order_by("-version").first()


def has_accepted_current(user: User, circle: Circle) -> bool:
    agreement = current_agreement(circle)
    return agreement is None or agreement.acceptances.filter(user=user).exists()


def seats_held(circle: Circle) -> int:
    """How many of the circle's seats are held now (see `MembershipQuerySet.holding_seats`)."""
    return circle.memberships.holding_seats().count()


def _lock(circle: Circle) -> Circle:
    return Circle.objects.select_for_update().get(pk=circle.pk)


def _sync_full_status(circle: Circle) -> None:
    if circle.status not in (Circle.Status.OPEN, Circle.Status.FULL):
        return
    status = Circle.Status.FULL if seats_held(circle) >= circle.capacity else Circle.Status.OPEN
    if status != circle.status:
        circle.status = status
        circle.save(update_fields=["status"])


# --- Joining ----------------------------------------------------------------------------


def agreement_accept(*, user: User, circle: Circle, version: int | None) -> None:
    """Record that `user` accepted the circle's current agreements (version he read)."""
    agreement = current_agreement(circle)
    if agreement is None:
        return
    if version != agreement.version:
        raise CircleError(AGREEMENT_CHANGED)
    AgreementAcceptance.objects.get_or_create(agreement=agreement, user=user)


@transaction.atomic
def membership_request(
    *, circle: Circle, user: User, agreement_version: int | None, introduction: str = ""
) -> Membership:
    """Ask to join: a free seat makes a request for the facilitator, else the waitlist.

    `introduction` is a few words about himself that only the circle's
    facilitators read. He is emailed what happens next.
    """
    if not user.is_verified:
        raise CircleError(NOT_VERIFIED)
    introduction = introduction.strip()
    if len(introduction) > INTRODUCTION_MAX:
        raise CircleError(INTRODUCTION_TOO_LONG)
    # His row first, then the circle's: his open requests across circles are
    # counted and added to one at a time.
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    circle = _lock(circle)
    if not circle.is_listed or circle.status not in (
        Circle.Status.FORMING,
        Circle.Status.OPEN,
        Circle.Status.FULL,
    ):
        raise CircleError(NOT_JOINABLE)
    membership = Membership.objects.filter(circle=circle, user=user).first()
    if membership is not None and membership.status in (
        Membership.Status.ACTIVE,
        Membership.Status.PAUSED,
    ):
        raise CircleError(ALREADY_MEMBER)
    if membership is not None and membership.status in (
        Membership.Status.REQUESTED,
        Membership.Status.WAITLISTED,
    ):
        raise CircleError(ALREADY_ASKED)
    if membership is not None and (until := _cool_down_ends(membership)) is not None:
        raise CircleError(COOLING_DOWN.format(when=_local(until, user)))
    open_requests = Membership.objects.filter(
        user=user, status__in=[Membership.Status.REQUESTED, Membership.Status.WAITLISTED]
    )
    if open_requests.count() >= MAX_OPEN_REQUESTS:
        raise CircleError(TOO_MANY_OPEN)
    agreement_accept(user=user, circle=circle, version=agreement_version)
    # Nobody jumps the queue: while anyone waits (with a live offer or not), a
    # free seat is the first waiting man's and a newcomer waits behind him —
    # behind a man whose offer ran out too (the cron may not have moved him yet).
    _offers_lapse(circle, timezone.now())
    if circle.memberships.waitlist().exists() or seats_held(circle) >= circle.capacity:
        status = Membership.Status.WAITLISTED
    else:
        status = Membership.Status.REQUESTED
    asked_before = membership is not None
    membership = membership or Membership(circle=circle, user=user)
    membership.status = status
    membership.role = Membership.Role.MEMBER
    membership.requested_at = timezone.now()
    membership.decided_at = membership.left_at = membership.offer_expires_at = None
    membership.introduction = introduction
    # A man asking again keeps his row (and his sharing choices): only the ask is written.
    membership.save(
        update_fields=[
            "introduction",
            "status",
            "role",
            "requested_at",
            "decided_at",
            "left_at",
            "offer_expires_at",
        ]
        if asked_before
        else None
    )
    if status == Membership.Status.WAITLISTED:
        messages.waitlisted(membership)
        seat_offer_next(circle=circle)  # a free seat goes to the first man waiting
    else:
        _sync_full_status(circle)
        messages.join_requested(membership)
        messages.request_received(membership, answer_days=ANSWER_DAYS)
    return membership


@transaction.atomic
def membership_withdraw(*, membership: Membership) -> bool:
    """He takes back his request or his waitlist place; returns False if there was none.

    Only his own row changes: a seat his request held goes to the waitlist as
    when anyone leaves. Withdrawing twice is harmless (the second does nothing).
    """
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.status not in (Membership.Status.REQUESTED, Membership.Status.WAITLISTED):
        return False
    membership.status = Membership.Status.LEFT
    membership.left_at = timezone.now()
    membership.offer_expires_at = None
    membership.save(update_fields=["status", "left_at", "offer_expires_at"])
    seat_offer_next(circle=circle)
    return True


def _cool_down_ends(membership: Membership) -> datetime | None:
    """When a man who left this circle, or was declined, may ask it again (if not yet)."""
    if membership.status == Membership.Status.LEFT:
        since = membership.left_at
    elif membership.status == Membership.Status.DECLINED:
        since = membership.decided_at
    else:
        return None
    until = since + timedelta(days=COOL_DOWN_DAYS) if since else None
    return until if until and until > timezone.now() else None


def _local(moment: datetime, user: User) -> str:
    local = timezone.localtime(moment, ZoneInfo(user.time_zone))
    return f"{local:%A} {local.day} {local:%B} at {local:%H:%M}"


@transaction.atomic
def membership_approve(*, membership: Membership, message: str = "") -> Membership:
    """A facilitator lets a requesting member in; `message` is a word to him in the email."""
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.status != Membership.Status.REQUESTED:
        raise CircleError(NOT_PENDING)
    # His request already holds a seat; this only refuses when the men in the
    # circle fill it already (its capacity was lowered since he asked).
    if circle.memberships.members().count() >= circle.capacity:
        raise CircleError(CIRCLE_FULL)
    now = timezone.now()
    membership.status = Membership.Status.ACTIVE
    membership.decided_at = membership.joined_at = now
    membership.save(update_fields=["status", "decided_at", "joined_at"])
    _sync_full_status(circle)
    messages.approved(membership, message=message.strip())
    return membership


@transaction.atomic
def membership_decline(*, membership: Membership, message: str = "") -> Membership:
    """A facilitator declines a request (its seat goes to the waitlist); `message` is to him."""
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.status not in (Membership.Status.REQUESTED, Membership.Status.WAITLISTED):
        raise CircleError(NOT_PENDING)
    membership.status = Membership.Status.DECLINED
    membership.decided_at = timezone.now()
    membership.offer_expires_at = None
    membership.save(update_fields=["status", "decided_at", "offer_expires_at"])
    messages.declined(membership, message=message.strip())
    seat_offer_next(circle=circle)
    return membership


@transaction.atomic
def membership_leave(*, membership: Membership) -> Membership:
    """A member leaves (or a facilitator removes him); his seat goes to the waitlist.

    The circle's last lead facilitator cannot leave (see `_keep_a_facilitator`).
    """
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.status == Membership.Status.LEFT:
        raise CircleError(NOT_MEMBER_TO_LEAVE)
    _keep_a_facilitator(circle, membership, new_role=None)
    membership.status = Membership.Status.LEFT
    membership.left_at = timezone.now()
    membership.offer_expires_at = None
    membership.save(update_fields=["status", "left_at", "offer_expires_at"])
    # He no longer leads the meetings he was down for; facilitators pick someone.
    circle.meetings.upcoming().filter(leader=membership.user_id).update(leader=None)
    caching.bump(caching.circle_scope(circle.pk))  # update() sends no signal
    seat_offer_next(circle=circle)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: User) -> Membership:
    """Someone running the circle removes a man from it (the admin's "Remove" action).

    A facilitator (lead or co-) is removed only by a superuser, a lead of that
    circle, or himself: a co-facilitator cannot push the lead out.
    """
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        membership.is_facilitator
        and not by.is_superuser
        and by.pk != membership.user_id
        and not is_lead(by, circle)
    ):
        raise CircleError(REMOVE_NOT_YOURS)
    return membership_leave(membership=membership)


# --- Roles -------------------------------------------------------------------------------

FACILITATING_ROLES = (Membership.Role.FACILITATOR, Membership.Role.CO_FACILITATOR)


def is_lead(user: User, circle: Circle) -> bool:
    """Whether `user` is an active lead facilitator (role Facilitator) of `circle`."""
    return (
        circle.memberships.active()
        .filter(user_id=user.pk, role=Membership.Role.FACILITATOR)
        .exists()
    )


def _keep_a_facilitator(circle: Circle, membership: Membership, *, new_role: str | None) -> None:
    """Refuse a change that would leave the circle without its last lead, or anyone to run it.

    `new_role` is the membership's role after the change, None when he leaves.
    Call with the circle locked: two leads demoting each other at once must not
    both succeed.
    """
    if not membership.is_facilitator:
        return
    others = list(
        circle.memberships.facilitating().exclude(pk=membership.pk).values_list("role", flat=True)
    )
    after = [*others, *([new_role] if new_role in FACILITATING_ROLES else [])]
    if membership.role == Membership.Role.FACILITATOR and Membership.Role.FACILITATOR not in after:
        raise CircleError(LAST_FACILITATOR)  # the last lead
    if not after:
        raise CircleError(LAST_FACILITATOR)  # nobody left to run the circle


@transaction.atomic
def membership_role_set(*, membership: Membership, role: str, by: User) -> Membership:
    """Change a man's role in his circle.

    A superuser may set any role. A circle's lead facilitator may only make an
    active member of that circle co-facilitator; nobody else changes roles.
    The circle always keeps a lead facilitator (checked with the circle locked).
    """
    if role not in Membership.Role.values:
        raise CircleError(UNKNOWN_ROLE)
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    lead_promotes = (
        role == Membership.Role.CO_FACILITATOR
        and membership.role == Membership.Role.MEMBER
        and membership.status == Membership.Status.ACTIVE
        and is_lead(by, circle)
    )
    if not (by.is_superuser or lead_promotes):
        raise CircleError(ROLE_NOT_YOURS)
    if membership.role == role:
        return membership
    _keep_a_facilitator(circle, membership, new_role=role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def seat_offer_next(*, circle: Circle, message: str = "") -> list[Membership]:
    """Offer each free seat to the next man on the waitlist; returns who was offered one.

    `message` is the facilitator's word to each man offered a seat (in the email).

    Offers that ran out first go to the back of the waitlist (as `offers_expire`
    does), so a lapsed offer passes on even before the cron has run. Locks the
    circle itself: a caller that already holds the lock loses nothing, and one
    that forgot cannot hand out the same seat twice. A closed circle offers none.
    """
    circle = _lock(circle)
    if circle.status == Circle.Status.CLOSED:
        return []
    now = timezone.now()
    _offers_lapse(circle, now)
    offered = []
    free = circle.capacity - seats_held(circle)
    if free > 0:
        waiting = circle.memberships.waitlist().filter(offer_expires_at__isnull=True)
        for membership in waiting.select_related("user", "circle")[:free]:
            membership.offer_expires_at = now + timedelta(hours=OFFER_HOURS)
            membership.save(update_fields=["offer_expires_at"])
            messages.seat_offered(membership, message=message.strip())
            offered.append(membership)
    _sync_full_status(circle)
    return offered


def _offers_lapse(circle: Circle, now: datetime) -> int:
    """Move the circle's run-out offers to the back of its waitlist (circle locked)."""
    stale = circle.memberships.filter(
        status=Membership.Status.WAITLISTED, offer_expires_at__lte=now
    )
    lapsed = stale.update(offer_expires_at=None, requested_at=now)
    caching.bump(caching.circle_scope(circle.pk), caching.DIRECTORY)  # update(): no signal
    return lapsed


@transaction.atomic
def offer_accept(*, membership: Membership) -> Membership:
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.has_offer:
        raise CircleError(NO_OFFER)
    # As for an approval: his offer holds a seat, unless the circle shrank since.
    if circle.memberships.members().count() >= circle.capacity:
        raise CircleError(CIRCLE_FULL)
    now = timezone.now()
    membership.status = Membership.Status.ACTIVE
    membership.offer_expires_at = None
    membership.decided_at = membership.joined_at = now
    membership.save(update_fields=["status", "offer_expires_at", "decided_at", "joined_at"])
    return membership


@transaction.atomic
def offer_decline(*, membership: Membership) -> Membership:
    circle = _lock(membership.circle)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.has_offer:
        raise CircleError(NO_OFFER)
    membership.status = Membership.Status.LEFT
    membership.left_at = timezone.now()
    membership.offer_expires_at = None
    membership.save(update_fields=["status", "left_at", "offer_expires_at"])
    seat_offer_next(circle=circle)
    return membership


def offers_expire() -> int:
    """Move expired offers to the back of the waitlist and offer the seats on.

    Returns how many offers expired. Safe to run from several hosts at once.
    """
    now = timezone.now()
    expired = 0
    circle_ids = (
        Membership.objects.filter(status=Membership.Status.WAITLISTED, offer_expires_at__lte=now)
        .values_list("circle_id", flat=True)
        .distinct()
    )
    for circle_id in list(circle_ids):
        with transaction.atomic():
            circle = Circle.objects.select_for_update().get(pk=circle_id)
            # Back of the queue, so the next man gets his turn.
            expired += _offers_lapse(circle, now)
            seat_offer_next(circle=circle)
    return expired


def requests_expire() -> int:
    """Expire join requests nobody answered in REQUEST_DAYS: each seat goes to the waitlist.

    Each man is told his request no longer holds a seat (he may ask again).
    Returns how many expired. Safe to run from several hosts at once.
    """
    cutoff = timezone.now() - timedelta(days=REQUEST_DAYS)
    unanswered = Membership.objects.filter(
        status=Membership.Status.REQUESTED, requested_at__lte=cutoff
    )
    expired = 0
    for circle_id in list(unanswered.values_list("circle_id", flat=True).distinct()):
        with transaction.atomic():
            circle = Circle.objects.select_for_update().get(pk=circle_id)
            # Under the circle's lock: a facilitator's answer meanwhile wins.
            stale = list(unanswered.filter(circle=circle).select_related("user", "circle"))
            for membership in stale:
                membership.status = Membership.Status.EXPIRED
                membership.decided_at = timezone.now()
                membership.save(update_fields=["status", "decided_at"])
                messages.request_expired(membership, days=REQUEST_DAYS)
            expired += len(stale)
            seat_offer_next(circle=circle)
    return expired


def requests_nudge(*, now: datetime | None = None) -> int:
    """The daily reminders of join requests nobody answered; how many messages were queued.

    Each facilitator whose circles hold a request waiting ANSWER_DAYS or more
    gets one email a day listing all of them, until each is answered (or
    expires, REQUEST_DAYS); once one has waited OVERDUE_DAYS, every superuser
    gets one email a day listing all such requests, whichever circle. A day is
    the recipient's own, and a message is keyed to it in the message log
    (messages.requests_waiting), so this may run on every scheduler pass, on
    several hosts at once: a second pass the same day queues nothing.
    """
    now = now or timezone.now()
    waiting = list(
        Membership.objects.filter(
            status=Membership.Status.REQUESTED,
            requested_at__lte=now - timedelta(days=ANSWER_DAYS),
        )
        .select_related("user", "circle")
        .order_by("circle__name", "circle_id", "requested_at", "pk")
    )
    if not waiting:
        return 0
    by_circle: dict[int, list[Membership]] = {}
    for membership in waiting:
        by_circle.setdefault(membership.circle_id, []).append(membership)
    leads: dict[int, tuple[User, list[Membership]]] = {}
    for lead in (
        Membership.objects.facilitating()
        .filter(circle_id__in=by_circle)
        .select_related("user")
        .order_by("user_id", "circle__name", "circle_id")
    ):
        leads.setdefault(lead.user_id, (lead.user, []))[1].extend(by_circle[lead.circle_id])
    queued = sum(
        messages.requests_waiting(user, requests, now=now) for user, requests in leads.values()
    )
    overdue = [m for m in waiting if m.requested_at <= now - timedelta(days=OVERDUE_DAYS)]
    if overdue:
        for admin in User.objects.filter(is_superuser=True, is_active=True).order_by("pk"):
            queued += messages.requests_overdue(admin, overdue, now=now)
    return queued


# --- Agreements -----------------------------------------------------------------------


@transaction.atomic
def agreement_publish(*, circle: Circle, text: str) -> Agreement:
    """A new version of the agreements; active members must accept it to RSVP."""
    circle = _lock(circle)
    latest = current_agreement(circle)
    agreement = Agreement.objects.create(
        circle=circle, version=(latest.version + 1) if latest else 1, text=text
    )
    if latest is not None:  # the first version is read when joining
        messages.agreements_changed(agreement)
    return agreement


# --- Meetings ---------------------------------------------------------------------------


def rsvp_set(*, meeting: Meeting, user: User, response: str, channel: str) -> RSVP:
    """Record (or change) a member's answer for a meeting. One RSVP per man."""
    if response not in RSVP.Response.values:
        raise CircleError("Answer yes or no.")
    if meeting.status != Meeting.Status.SCHEDULED or meeting.starts_at <= timezone.now():
        raise CircleError(MEETING_CLOSED)
    if not meeting.circle.memberships.active().filter(user=user).exists():
        raise CircleError(NOT_A_MEMBER)
    if not has_accepted_current(user, meeting.circle):
        raise CircleError(NEEDS_ACCEPTANCE)
    rsvp, _ = RSVP.objects.update_or_create(
        meeting=meeting,
        user=user,
        defaults={"response": response, "channel": channel, "responded_at": timezone.now()},
    )
    return rsvp


def attendance_prefill(*, meeting: Meeting) -> int:
    """One attendance row per man who was a member when it started: an earlier "no"
    is an excused absence.

    Facilitators then mark who was present. Rows already there are kept. Never
    called by opening a page (circles.attendance takes attendance on a save).
    """
    said_no = set(
        meeting.rsvps.filter(
            response=RSVP.Response.NO, responded_at__lt=meeting.starts_at
        ).values_list("user_id", flat=True)
    )
    existing = set(meeting.attendance.values_list("user_id", flat=True))
    rows = [
        Attendance(
            meeting=meeting,
            user_id=user_id,
            status=Attendance.Status.EXCUSED if user_id in said_no else Attendance.Status.UNEXCUSED,
        )
        for user_id in Membership.objects.filter(circle_id=meeting.circle_id)
        .in_circle_at(meeting.starts_at)
        .values_list("user_id", flat=True)
        if user_id not in existing
    ]
    Attendance.objects.bulk_create(rows, ignore_conflicts=True)
    caching.bump(caching.circle_scope(meeting.circle_id))  # bulk_create sends no signal
    return len(rows)


@transaction.atomic
def meeting_cancel(*, meeting: Meeting, reason: str = "") -> Meeting:
    """Cancel a meeting; the date stays taken so scheduling won't bring it back.

    `reason` is this cancellation's own, told to the members; the meeting's
    note (written for another purpose) is never sent as one.
    """
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    # A past one too: recording that a meeting did not take place.
    if meeting.status != Meeting.Status.SCHEDULED:
        raise CircleError(NOT_CANCELLABLE)
    meeting.status = Meeting.Status.CANCELLED
    meeting.cancel_reason = reason.strip()[:300]
    meeting.cancelled_at = timezone.now()
    meeting.save(update_fields=["status", "cancel_reason", "cancelled_at"])
    if meeting.starts_at > timezone.now():
        messages.meeting_cancelled(meeting)
    return meeting


def meeting_can_reinstate(meeting: Meeting) -> bool:
    """A cancelled meeting can be put back on until it starts."""
    return meeting.status == Meeting.Status.CANCELLED and meeting.starts_at > timezone.now()


@transaction.atomic
def meeting_reinstate(*, meeting: Meeting) -> Meeting:
    """Undo a cancellation while the meeting has not started; the members are told again."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if not meeting_can_reinstate(meeting):
        raise CircleError(NOT_REINSTATABLE)
    meeting.status = Meeting.Status.SCHEDULED
    meeting.cancel_reason = ""
    meeting.cancelled_at = None
    meeting.save(update_fields=["status", "cancel_reason", "cancelled_at"])
    messages.meeting_reinstated(meeting)
    return meeting


def meeting_is_off_pattern(meeting: Meeting) -> bool:
    """True if the meeting is not on one of the circle's regular dates and times."""
    circle = meeting.circle
    local = timezone.localtime(meeting.starts_at, circle.zone)
    return not circle.meets_on(local.date()) or local.time() != circle.start_time


def meeting_added(*, meeting: Meeting) -> bool:
    """A meeting scheduled by hand: the members hear of it if it is off the regular
    pattern (a regular one is what they expect). True if they were told."""
    if meeting.status != Meeting.Status.SCHEDULED or meeting.starts_at <= timezone.now():
        return False
    if not meeting_is_off_pattern(meeting):
        return False
    messages.meeting_added(meeting)
    return True


# --- Calendar feed ----------------------------------------------------------------------


def calendar_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


FEED_KEY_SALT = "circles.calendar_feed"


def _feed_token(user_id: int, nonce: str, secret: str) -> str:
    digest = salted_hmac(
        FEED_KEY_SALT, f"{user_id}:{nonce}", secret=secret, algorithm="sha256"
    ).digest()
    return urlsafe_b64encode(digest).decode().rstrip("=")


def calendar_feed_create(*, user: User) -> str:
    """A new secret feed token (replacing any old one, which stops working).

    The token is an HMAC of a random nonce under SECRET_KEY: the credentials
    database keeps the nonce and the token's hash, never the token, and
    neither alone opens the feed; the page can still show him his link again
    (calendar_feed_token).

    Only for a verified address: a feed made by someone who merely typed the
    address would keep showing him the circle's meetings and private address.
    """
    if not user.is_verified:
        raise CircleError(FEED_NOT_VERIFIED)
    nonce = secrets.token_urlsafe(24)
    token = _feed_token(user.pk, nonce, settings.SECRET_KEY)
    CalendarFeed.objects.update_or_create(
        user_id=user.pk, defaults={"token_hash": calendar_token_hash(token), "nonce": nonce}
    )
    return token


def calendar_feed_token(*, user: User) -> str | None:
    """His current feed token, made again from its nonce; None if he has none we can show.

    A link made before nonces were kept, or under a SECRET_KEY no longer in
    SECRET_KEY_FALLBACKS, still works but cannot be shown: he may replace it.
    """
    feed = CalendarFeed.objects.filter(user_id=user.pk).first()
    if feed is None or not feed.nonce:
        return None
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        token = _feed_token(user.pk, feed.nonce, secret)
        if constant_time_compare(calendar_token_hash(token), feed.token_hash):
            return token
    return None


def calendar_feed_revoke(*, user: User) -> None:
    """Switch the member's feed off (he asked, or his mailbox was first proven)."""
    CalendarFeed.objects.filter(user_id=user.pk).delete()


def calendar_feed_user(token: str) -> User | None:
    feed = CalendarFeed.objects.filter(token_hash=calendar_token_hash(token)).first()
    if feed is None:
        return None
    return User.objects.filter(pk=feed.user_id, is_active=True).first()


# --- What a member shares with his circle -----------------------------------------------


@transaction.atomic
def membership_sharing_set(
    *, membership: Membership, share_email: bool, share_phone: bool
) -> Membership:
    """Whether the member shows his circle his email address and his mobile number.

    These two columns only, on his membership while it is active: a form read
    before a seat offer, a removal or a role change never writes the status
    or the offer back as it read them.
    """
    updated = Membership.objects.filter(pk=membership.pk, status=Membership.Status.ACTIVE).update(
        share_email=share_email, share_phone=share_phone
    )
    if not updated:
        raise CircleError(NOT_A_MEMBER)
    caching.bump(caching.circle_scope(membership.circle_id))  # update() sends no signal
    membership.share_email, membership.share_phone = share_email, share_phone
    return membership


# --- Leaving with a word; a newcomer's time zone -------------------------------------


@transaction.atomic
def membership_leave_saying(*, membership: Membership, word: str = "") -> Membership:
    """A man leaves his circle himself, with an optional word that his facilitators read.

    The circle's agreement asks a man who leaves to say so: the facilitators
    are told either way, with his word if he wrote one.
    """
    was_in = membership.status in Membership.MEMBER_STATUSES
    membership = membership_leave(membership=membership)
    if was_in:
        messages.member_left(membership, word=word.strip())
    return membership


def zone_from_circle(*, user: User, circle: Circle) -> bool:
    """A man whose zone we do not know yet (UTC) takes his circle's when he asks to join.

    True if his zone changed.
    """
    if user.time_zone != zones.FALLBACK or circle.time_zone == zones.FALLBACK:
        return False
    user.time_zone = circle.time_zone
    user.save(update_fields=["time_zone"])
    return True
