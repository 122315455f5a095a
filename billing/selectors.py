"""A member's dues status, derived from Stripe's records and ours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, Expression, QuerySet, Subquery
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
    return {pk: _decide(words[pk], waivers.get(pk), offline.get(pk)) for pk in ids}


def _decide(words: set[str], waived_until: date | None, paid_until: date | None) -> DuesStatus:
    if ACTIVE in words:
        return DuesStatus(ACTIVE)
    if waived_until is not None:
        return DuesStatus(WAIVED, waived_until)
    if paid_until is not None:
        return DuesStatus(PAID_OFFLINE, paid_until)
    return DuesStatus(next((w for w in RANK if w in words), NONE))


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
    """dues_summary() for one member (his dashboard), in one query."""
    row = User.objects.filter(pk=user.pk).values(**dues_line_columns(user.pk)).first() or {}
    return dues_line_from(row)


def dues_line_columns(user_id: int, *, today: date | None = None) -> dict[str, Expression]:
    """dues_line() as columns that any query may carry (the dashboard's own, to save one).

    Uncorrelated subqueries: PostgreSQL runs each once per query, not once per row.
    """
    today = today or timezone.localdate()
    subscriptions = Subscription.objects.filter(customer__subscriber_id=user_id)
    columns: dict[str, Expression] = {
        f"dues_{word.replace(' ', '_')}": Exists(
            subscriptions.filter(
                stripe_data__status__in=[s for s, w in STRIPE_STATUS.items() if w == word]
            )
        )
        for word in RANK
    }
    waiver = Scholarship.objects.filter(
        user_id=user_id, kind="waived", status="approved", until__gte=today
    )
    paid = OfflinePayment.objects.filter(
        user_id=user_id, covers_from__lte=today, covers_until__gte=today
    )
    columns["dues_waived_until"] = Subquery(waiver.order_by("-until").values("until")[:1])
    columns["dues_paid_until"] = Subquery(paid.order_by("-covers_until").values("covers_until")[:1])
    columns["dues_tiers_offered"] = Exists(dues_tiers())
    return columns


def dues_line_from(row: dict[str, object] | object) -> str:
    """The sentence from the columns of dues_line_columns(), on a dict or an object."""

    def get(name: str) -> object:
        return row.get(name) if isinstance(row, dict) else getattr(row, name, None)

    words = {word for word in RANK if get(f"dues_{word.replace(' ', '_')}")}
    status = _decide(words, get("dues_waived_until"), get("dues_paid_until"))
    return dues_summary(status, tiers_offered=bool(get("dues_tiers_offered")))
