"""Two accounts claiming one address (in any spelling) at once: one gets it.

Real concurrency on PostgreSQL. The canonical key is unique, so the database
itself holds the rule; the loser is told, and nothing of his account changes.
"""

# ruff: noqa: RUF001, RUF003  (look-alike letters are the point of these tests)

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction

from accounts import services
from accounts.canonical import email_key
from accounts.models import EmailChange, User
from tests.conftest import make_user
from tests.races import Worker, parked

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

SPELLINGS = [
    "tim.victim@example.org",
    "TIM.victim@EXAMPLE.org",
    "tım.victim@example.org",  # dotless ı
    "Tim.Victim@example.org",
]


def test_accounts_confirming_look_alikes_of_one_address_at_once_leave_one_owner() -> None:
    men = [make_user(f"man{n}@example.com") for n in range(len(SPELLINGS))]
    changes = [
        services.email_change_request(user=man, new_email=spelling)
        for man, spelling in zip(men, SPELLINGS, strict=True)
    ]
    start = threading.Barrier(len(changes))

    def claim(change: EmailChange) -> str:
        try:
            start.wait(timeout=10)
            return services.email_change_confirm(change=change).email
        except services.AccountError as error:
            return error.message
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(changes)) as pool:
        answers = list(pool.map(claim, changes))

    winners = [a for a in answers if a != services.EMAIL_CHANGE_TAKEN]
    # Stored as typed, with the domain lower-cased (User.objects.normalize_email).
    stored = {User.objects.normalize_email(spelling) for spelling in SPELLINGS}
    assert len(winners) == 1 and winners[0] in stored, answers
    [owner] = User.objects.with_email("tim.victim@example.org")
    assert owner.email == winners[0]
    losers = User.objects.exclude(pk=owner.pk).order_by("pk")
    assert [u.email for u in losers] == [m.email for m in men if m.pk != owner.pk]
    assert all(not u.is_verified for u in losers)


def test_the_unique_key_refuses_the_address_another_account_is_taking() -> None:
    # The other account's change is not committed yet when this one checks
    # (so the check sees the address free); the key decides.
    mine = make_user("bob@example.com")
    other = make_user("charlie@example.com")
    change = services.email_change_request(user=mine, new_email="tim.victim@example.org")

    with transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="TIM.victim@example.org")
        confirming = Worker(lambda: services.email_change_confirm(change=change))
        assert parked("default", "accounts_user", confirming)
    with pytest.raises(services.AccountError) as refused:
        confirming.join()

    assert refused.value.message == services.EMAIL_CHANGE_TAKEN
    assert User.objects.get(pk=mine.pk).email == "bob@example.com"
    assert User.objects.get(pk=other.pk).email_key == email_key("tim.victim@example.org")
