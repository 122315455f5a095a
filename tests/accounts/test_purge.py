from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from djstripe.models import Customer

from accounts import services
from accounts.models import Credential, RevokedToken, Session, User
from billing.models import OfflinePayment, Scholarship
from circles.models import Circle, Membership
from notifications.models import Notification
from tests.conftest import make_user, signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)


def test_purge_deletes_expired_tokens_sessions_and_stale_sign_ups(member: User, capsys) -> None:
    RevokedToken.objects.create(jti="expired", user_id=member.pk, expires_at=days_ago(1))
    RevokedToken.objects.create(jti="live", user_id=member.pk, expires_at=days_ago(-1))
    client = signed_in(member)
    Session.objects.filter(pk=client.session.session_key).update(expire_date=days_ago(1))
    live_session = signed_in(member).session.session_key
    stale = make_user("stale@example.com", date_joined=days_ago(20), from_sign_up=True)
    recent = make_user("recent@example.com", date_joined=days_ago(2), from_sign_up=True)
    verified_old = make_user("old@example.com", date_joined=days_ago(200), from_sign_up=True)
    verified_old.email_verified_at = days_ago(199)
    verified_old.save()
    staff_old = make_user("staff@example.com", date_joined=days_ago(200), is_staff=True)

    call_command("purge_expired_credentials")

    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live"]
    assert list(Session.objects.values_list("pk", flat=True)) == [live_session]
    remaining = set(User.objects.values_list("email", flat=True))
    assert remaining == {member.email, recent.email, verified_old.email, staff_old.email}
    assert not Credential.objects.filter(user_id=stale.pk).exists()
    out = capsys.readouterr().out
    assert "Purged 1 expired revoked tokens, 1 expired sessions, 1 unverified sign-ups." in out


def test_purge_age_can_be_set(capsys) -> None:
    make_user("young@example.com", date_joined=days_ago(3), from_sign_up=True)

    call_command("purge_expired_credentials", "--unverified-days", "2")

    assert not User.objects.exists()


def test_purge_with_nothing_to_do_says_so(capsys) -> None:
    call_command("purge_expired_credentials")

    out = capsys.readouterr().out
    assert "Purged 0 expired revoked tokens, 0 expired sessions, 0 unverified sign-ups." in out
    assert "Kept 0 unverified sign-ups that hold something." in out


def stale_sign_up(email: str, **extra: object) -> User:
    return make_user(email, date_joined=days_ago(20), from_sign_up=True, **extra)


def _membership(user: User) -> None:
    circle = Circle.objects.create(name="Elm", slug="elm", weekday=1, start_time="19:00")
    Membership.objects.create(circle=circle, user=user)


def _offline_payment(user: User) -> None:
    OfflinePayment.objects.create(
        user=user,
        amount_cents=4500,
        method="cash",
        covers_from=date(2026, 1, 1),
        covers_until=date(2026, 1, 31),
    )


def _stripe_customer(user: User) -> None:
    Customer.objects.create(id="cus_test_held", subscriber=user, livemode=False)


def _scholarship(user: User) -> None:
    Scholarship.objects.create(user=user, kind="waived", reason="Between jobs.")


def _signed_in(user: User) -> None:
    user.last_login = days_ago(19)
    user.save(update_fields=["last_login"])


@pytest.mark.parametrize(
    ("holding", "held"),
    [
        (_membership, 1),
        (_offline_payment, 1),
        (_stripe_customer, 1),
        (_scholarship, 1),
        (_signed_in, 0),  # in use, so no stale sign-up at all
    ],
)
def test_purge_keeps_a_stale_sign_up_that_holds_something(holding, held: int, capsys) -> None:
    kept = stale_sign_up("kept@example.com")
    holding(kept)
    gone = stale_sign_up("gone@example.com", full_name="Gone Man")

    call_command("purge_expired_credentials")

    assert list(User.objects.values_list("email", flat=True)) == [kept.email]
    out = capsys.readouterr().out
    assert "1 unverified sign-ups." in out
    assert f"Kept {held} unverified sign-ups that hold something." in out
    assert find_in_database("default", [gone.email, gone.full_name]) == []


def test_purge_keeps_accounts_staff_or_an_operator_made(capsys) -> None:
    made_in_the_admin = make_user("made@example.com", date_joined=days_ago(200))

    call_command("purge_expired_credentials")

    assert User.objects.filter(pk=made_in_the_admin.pk).exists()
    assert "0 unverified sign-ups." in capsys.readouterr().out


def test_purge_deletes_a_sign_up_like_a_deletion_does() -> None:
    stale = stale_sign_up("stale@example.com", full_name="Stale Man")
    services.verification_send(user=stale)  # his verification email, queued
    assert Notification.objects.filter(user=stale).exists()

    call_command("purge_expired_credentials")

    pii = [stale.email, stale.full_name]
    assert find_in_database("default", pii) == []
    assert find_in_database("creds", pii) == []


def test_a_sign_up_that_takes_something_meanwhile_is_not_purged() -> None:
    stale = stale_sign_up("stale@example.com")
    ids, kept = services.sign_ups_stale(joined_before=timezone.now() - timedelta(days=14))
    assert (ids, kept) == ([stale.pk], 0)
    _offline_payment(stale)  # a treasurer records his cash while the purge runs

    purged = services.sign_up_purge(
        user_id=stale.pk, joined_before=timezone.now() - timedelta(days=14)
    )

    assert purged is False
    assert User.objects.filter(pk=stale.pk).exists()
