"""An email queued for a fixed address goes there, whatever the member's address is then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications import delivery
from notifications.models import Notification
from notifications.services import notify
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")


def test_an_email_with_a_fixed_address_goes_there_and_others_follow_the_member() -> None:
    user = make_user("old@example.com")
    notify(user=user, kind="email_changed", subject_key="a", to_email="old@example.com")
    notify(user=user, kind="sign_in_paused", subject_key="b")
    user.email = "new@example.com"
    user.save(update_fields=["email"])

    delivery.deliver_due()

    sent = {m.subject: m.to for m in mail.outbox}
    assert sorted(sent.values()) == [["new@example.com"], ["old@example.com"]]
    assert Notification.objects.get(subject_key="b").to_email == ""


def test_a_fixed_address_goes_with_email_only() -> None:
    user = make_user("eve@example.com", phone="+14155550123", phone_verified_at=timezone.now())

    with pytest.raises(ValueError, match="email channel only"):
        notify(user=user, kind="broadcast", subject_key="x", to_email="eve@example.com")
    assert not Notification.objects.exists()


def test_the_fixed_address_is_forgotten_with_the_body() -> None:
    user = make_user("eve@example.com")
    [row] = notify(user=user, kind="email_changed", subject_key="a", to_email="old@example.com")
    delivery.deliver_due()

    purged = delivery.bodies_purge(older_than=timezone.now() + timedelta(seconds=1))

    row.refresh_from_db()
    assert purged == 1
    assert (row.to_email, row.body, row.status) == ("", "", Notification.Status.SENT)
