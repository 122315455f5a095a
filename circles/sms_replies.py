"""Two-way SMS for circles: YES or NO answers for the sender's next meeting.

Registered with notifications.inbound, which handles STOP / START / HELP and
finds the member behind the number.
"""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User
from circles import services
from circles.models import Meeting, Membership

YES_WORDS = {"YES", "Y", "1"}
NO_WORDS = {"NO", "N", "2"}
HELP = "reply YES or NO to answer for your next meeting."

NO_MEETING = "You have no upcoming meeting to answer for."
SAID_YES = "Thanks! See you {when}."
SAID_NO = "Thanks for letting us know. You'll be missed {when}."


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


def answer(*, user: User, word: str) -> str:
    """RSVP `user` to his next meeting from a YES / NO text; return the reply."""
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
