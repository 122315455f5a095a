"""The join request's own admin page: who he is, what he wrote, how long he has waited,
and the facilitator's answer (approve, decline, or offer a seat from the waitlist).

Every answer goes through circles.services, with the facilitator's optional word
to the man carried into the email he gets. MembershipAdmin wires the URL and
scopes the row (another circle's request answers 404).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from circles import services
from circles.models import Membership

MESSAGE_MAX = 500
APPROVE, DECLINE, OFFER = "approve", "decline", "offer"
NO_SEAT_TO_OFFER = "No seat to offer: no seat is free, or he already has an offer."
OFFERED_SOMEONE_ELSE = "The free seat went to {names}, who waited longer: seats go in order."
NOT_HIS_TURN = "Only a man on the waitlist can be offered a seat."


class AnswerForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(APPROVE, "Approve"), (DECLINE, "Decline"), (OFFER, "Offer a seat")],
        error_messages={"required": "Choose Approve, Decline or Offer a seat."},
    )
    message = forms.CharField(
        label="A word to him (optional)",
        help_text="Goes in the email he gets with your answer.",
        required=False,
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "class": "answer-message"}),
    )


@dataclass
class Outcome:
    level: str  # "success", "warning" or "error"
    text: str


def answer(*, membership: Membership, decision: str, message: str) -> Outcome:
    """Carry out the facilitator's answer; what to tell him about it."""
    who = membership.user.get_full_name()
    try:
        if decision == APPROVE:
            services.membership_approve(membership=membership, message=message)
            return Outcome("success", f"Approved: {who} is now a member of {membership.circle}.")
        if decision == DECLINE:
            services.membership_decline(membership=membership, message=message)
            return Outcome("success", f"Declined: {who} is told.")
        if membership.status != Membership.Status.WAITLISTED:
            return Outcome("error", NOT_HIS_TURN)
        offered = services.seat_offer_next(circle=membership.circle, message=message)
    except services.CircleError as error:
        return Outcome("error", error.message)
    if any(m.pk == membership.pk for m in offered):
        return Outcome("success", f"A seat is offered to {who} for {services.OFFER_HOURS} hours.")
    if offered:
        names = ", ".join(m.user.get_full_name() for m in offered)
        return Outcome("warning", OFFERED_SOMEONE_ELSE.format(names=names))
    return Outcome("warning", NO_SEAT_TO_OFFER)


def waited(membership: Membership) -> int:
    """Whole days since he asked (or joined the back of the waitlist)."""
    return (timezone.now() - membership.requested_at).days


def pending(queryset: QuerySet[Membership]) -> QuerySet[Membership]:
    return queryset.filter(status__in=services.PENDING)
