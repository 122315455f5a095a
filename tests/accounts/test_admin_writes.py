"""Admin change pages write back only what their form changed (accounts.admin_writes)."""

from __future__ import annotations

import pytest

from accounts.models import User
from billing.models import Scholarship
from circles.models import Circle, Membership
from tests.circles.conftest import join, make_circle
from tests.conftest import capture_all_queries, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


def updates_of(queries: dict, table: str) -> list[str]:
    return [
        q["sql"]
        for q in queries["default"].captured_queries
        if q["sql"].startswith(f'UPDATE "{table}"')
    ]


def test_the_user_admin_writes_only_the_changed_columns(superuser: User, member: User) -> None:
    admin = signed_in(superuser)
    form = {"email": member.email, "full_name": "Robert Member", "is_active": "on"}

    with capture_all_queries() as queries:
        response = admin.post(f"/admin/accounts/user/{member.pk}/change/", form)

    assert response.status_code == 302
    [update] = updates_of(queries, "accounts_user")
    assert '"full_name"' in update
    for column in ("credentials_changed_at", "phone", "email_verified_at", "email_key", "email"):
        assert f'"{column}"' not in update.split("WHERE")[0]
    assert User.objects.get(pk=member.pk).full_name == "Robert Member"


def test_an_unchanged_membership_page_writes_nothing(superuser: User, member: User) -> None:
    circle: Circle = make_circle()
    mine = join(member, circle)
    admin = signed_in(superuser)

    with capture_all_queries() as queries:
        response = admin.post(
            f"/admin/circles/membership/{mine.pk}/change/", {"role": Membership.Role.MEMBER}
        )

    assert response.status_code == 302
    assert updates_of(queries, "circles_membership") == []


def test_an_unchanged_scholarship_page_writes_nothing(superuser: User, member: User) -> None:
    scholarship = Scholarship.objects.create(user=member, reason="Between jobs")
    admin = signed_in(superuser)

    with capture_all_queries() as queries:
        response = admin.post(f"/admin/billing/scholarship/{scholarship.pk}/change/", {})

    assert response.status_code == 302
    assert updates_of(queries, "billing_scholarship") == []
