"""Two-way SMS: what a text from a member does, and what we answer."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Meeting, Membership
from mensc.models import SmsOptOut

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"}
START_WORDS = {"START", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}
YES_WORDS = {"YES", "Y", "1"}
NO_WORDS = {"NO", "N", "2"}

STOPPED = "You will get no more texts from Men's Circle. Reply START to get them again."
STARTED = "Texts from Men's Circle are back on. Reply STOP to stop them."
HELP = "Men's Circle: reply YES or NO to answer for your next meeting. STOP ends texts."
UNKNOWN = "Sorry, we could not match this number. Manage your texts at {site}"
NO_MEETING = "You have no upcoming meeting to answer for."
SAID_YES = "Thanks! See you {when}."
SAID_NO = "Thanks for letting us know. You'll be missed {when}."


def _sender(phone: str) -> User | None:
    return (
        User.objects.filter(phone=phone, is_active=True, email_verified_at__isnull=False)
        .order_by("pk")
        .first()
    )


def _next_meeting(user: User) -> Meeting | None:
    return (
        Meeting.objects.upcoming()
        .filter(
            starts_at__gt=timezone.now(),
            circle__memberships__user=user,
            circle__memberships__status=Membership.Status.ACTIVE,
        )
        .select_related("circle")
        .first()
    )


def reply_to(*, phone: str, text: str) -> str:
    """Act on an inbound text from `phone` and return the answer to send back."""
    if not phone:  # no sender: nobody to act for
        return UNKNOWN.format(site=settings.SITE_URL)
    words = text.strip().upper().split()
    word = words[0].strip(".!") if words else ""
    if word in STOP_WORDS:
        SmsOptOut.objects.get_or_create(phone=phone)
        return STOPPED
    if word in START_WORDS:
        SmsOptOut.objects.filter(phone=phone).delete()
        return STARTED
    user = _sender(phone)
    if user is None:
        # Says nothing about whether the number belongs to anyone.
        return UNKNOWN.format(site=settings.SITE_URL)
    if word not in YES_WORDS | NO_WORDS:
        return HELP
    meeting = _next_meeting(user)
    if meeting is None:
        return NO_MEETING
    response = "yes" if word in YES_WORDS else "no"
    try:
        services.rsvp_set(meeting=meeting, user=user, response=response, channel="sms")
    except services.CircleError as error:
        return error.message
    when = timezone.localtime(meeting.starts_at, meeting.circle.zone).strftime("%a %d %b %H:%M")
    return (SAID_YES if response == "yes" else SAID_NO).format(when=when)
