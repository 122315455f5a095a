from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Credential, RevokedToken, Session, User
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)


def test_purge_deletes_expired_tokens_sessions_and_stale_sign_ups(member: User, capsys) -> None:
    RevokedToken.objects.create(jti="expired", user_id=member.pk, expires_at=days_ago(1))
    RevokedToken.objects.create(jti="live", user_id=member.pk, expires_at=days_ago(-1))
    client = signed_in(member)
    Session.objects.filter(pk=client.session.session_key).update(expire_date=days_ago(1))
    live_session = signed_in(member).session.session_key
    stale = make_user("stale@example.com", date_joined=days_ago(20))
    recent = make_user("recent@example.com", date_joined=days_ago(2))
    verified_old = make_user("old@example.com", date_joined=days_ago(200))
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
    make_user("young@example.com", date_joined=days_ago(3))

    call_command("purge_expired_credentials", "--unverified-days", "2")

    assert not User.objects.exists()


def test_purge_with_nothing_to_do_says_so(capsys) -> None:
    call_command("purge_expired_credentials")

    assert "Purged 0 expired revoked tokens, 0 expired sessions, 0 unverified sign-ups." in (
        capsys.readouterr().out
    )
