"""Two accounts linking the same Google account at once: one wins, the other is told."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone

from accounts import services
from accounts.models import GoogleIdentity
from tests.conftest import make_user


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_parallel_links_of_one_google_account_leave_one_link_and_no_error() -> None:
    men = [make_user(f"man{n}@example.com", email_verified_at=timezone.now()) for n in range(6)]
    start = threading.Barrier(len(men))

    def link(user) -> str:
        try:
            start.wait(timeout=10)
            services.google_link(user=user, sub="google-sub-1", email="shared@gmail.com")
            return "linked"
        except services.AccountError as error:
            return error.message
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(men)) as pool:
        answers = list(pool.map(link, men))

    assert answers.count("linked") == 1
    assert sorted(set(answers)) == sorted({"linked", services.GOOGLE_ALREADY_LINKED})
    assert GoogleIdentity.objects.filter(sub="google-sub-1").count() == 1
