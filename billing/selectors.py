"""A member's dues status, derived from Stripe's records and ours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone
from djstripe.models import Invoice, Subscription

from accounts.models import User
from billing.models import DuesTier, OfflinePayment, Scholarship

ACTIVE, PAST_DUE, CANCELLED, NONE, WAIVED, PAID_OFFLINE = (
    "active",
    "past due",
    "cancelled",
    "none",
    "waived",
    "paid offline",
)
# Stripe subscription statuses and what they mean for dues.
STRIPE_STATUS = {
    "active": ACTIVE,
    "trialing": ACTIVE,
    "past_due": PAST_DUE,
    "unpaid": PAST_DUE,
    "incomplete": PAST_DUE,
    "canceled": CANCELLED,
    "incomplete_expired": CANCELLED,
    "paused": CANCELLED,
}
# When a member has more than one subscription, the best one counts.
RANK = [ACTIVE, PAST_DUE, CANCELLED]


@dataclass(frozen=True)
class DuesStatus:
    word: str
    until: date | None = None

    def __str__(self) -> str:
        return f"{self.word} until {self.until:%-d %b %Y}" if self.until else self.word


def subscriptions_of(user: User) -> QuerySet[Subscription]:
    return Subscription.objects.filter(customer__subscriber=user)


def invoices_of(user: User) -> QuerySet[Invoice]:
    return Invoice.objects.filter(customer__subscriber=user).order_by("-created")


def dues_statuses(user_ids: Iterable[int], *, today: date | None = None) -> dict[int, DuesStatus]:
    """Dues status of many members in three queries (admin lists, at-risk page).

    An active subscription wins; then a waiver or an offline payment covering
    today; then a lapsed subscription. Lapsed dues never remove anyone.
    """
    ids = set(user_ids)
    today = today or timezone.localdate()
    words: dict[int, set[str]] = {pk: set() for pk in ids}
    for subscription in Subscription.objects.filter(customer__subscriber_id__in=ids).select_related(
        "customer"
    ):
        words[subscription.customer.subscriber_id].add(
            STRIPE_STATUS.get(str(subscription.status), NONE)
        )
    waivers = dict(
        Scholarship.objects.filter(
            user_id__in=ids, kind="waived", status="approved", until__gte=today
        )
        .order_by("until")
        .values_list("user_id", "until")
    )
    offline = dict(
        OfflinePayment.objects.filter(
            user_id__in=ids, covers_from__lte=today, covers_until__gte=today
        )
        .order_by("covers_until")
        .values_list("user_id", "covers_until")
    )
    result = {}
    for pk in ids:
        if ACTIVE in words[pk]:
            result[pk] = DuesStatus(ACTIVE)
        elif pk in waivers:
            result[pk] = DuesStatus(WAIVED, waivers[pk])
        elif pk in offline:
            result[pk] = DuesStatus(PAID_OFFLINE, offline[pk])
        else:
            result[pk] = DuesStatus(next((w for w in RANK if w in words[pk]), NONE))
    return result


def dues_status(user: User, *, today: date | None = None) -> DuesStatus:
    """active, past due, cancelled, none, waived (until), paid offline (until)."""
    return dues_statuses([user.pk], today=today)[user.pk]


# What his dues are, in a sentence a man reads at a glance (the dues page, the dashboard).
SUMMARY = {
    ACTIVE: "Your dues are active.",
    PAST_DUE: "Your last payment did not go through: please check your card.",
    CANCELLED: "Your monthly dues have stopped.",
    WAIVED: "Your dues are waived until {until:%-d %B %Y}.",
    PAID_OFFLINE: "Your dues are paid until {until:%-d %B %Y}.",
}
NOT_PAYING = "You are not paying dues yet."
NO_DUES = "No dues are set up yet: there is nothing to pay."


def dues_tiers() -> QuerySet[DuesTier]:
    """The sliding scale a member chooses from, lowest first (as the treasurers ordered it)."""
    return DuesTier.objects.filter(is_active=True)


def dues_summary(status: DuesStatus, *, tiers_offered: bool) -> str:
    """His dues in plain words; never a bare status word such as "none"."""
    if status.word in SUMMARY:
        return SUMMARY[status.word].format(until=status.until)
    return NOT_PAYING if tiers_offered else NO_DUES


def dues_line(user: User) -> str:
    """dues_summary() for one member (his dashboard)."""
    return dues_summary(dues_status(user), tiers_offered=dues_tiers().exists())
