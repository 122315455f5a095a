"""Other men's messages that name a man who deleted his account lose their bodies."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications import delivery, erasure
from notifications.models import Notification
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")

S = Notification.Status


def message(user, key: str, body: str, status: str = S.SENT) -> Notification:
    return Notification.objects.create(
        user=user,
        channel="email",
        kind="broadcast",
        subject_key=key,
        subject="From your circle",
        body=body,
        html_body=f"<p>{body}</p>",
        status=status,
    )


def test_messages_naming_him_are_emptied_and_the_unsent_ones_never_go() -> None:
    eve = make_user("eve@example.com")
    sent = message(eve, "a", "Welcome Ben Member.")
    pending = message(eve, "b", "Ben Member joins us.", S.PENDING)
    retrying = message(eve, "c", "Call ben@example.com.", S.FAILED_TRANSIENT)
    about_his_request = message(eve, "membership:12:20260101", "Ben M. asked to join.")
    another_request = message(eve, "membership:121:20260101", "Carl C. asked to join.")
    unrelated = message(eve, "d", "Bring a chair.")

    emptied = erasure.bodies_forget(
        naming=["Ben Member", "ben@example.com"], subject_prefixes=["membership:12:"]
    )

    assert emptied == 4
    rows = {row.pk: row for row in Notification.objects.all()}
    for gone in (sent, pending, retrying, about_his_request):
        assert (rows[gone.pk].subject, rows[gone.pk].body, rows[gone.pk].html_body) == ("", "", "")
    assert [rows[m.pk].status for m in (sent, pending, retrying)] == [S.SENT, S.SKIPPED, S.SKIPPED]
    assert rows[another_request.pk].body == "Carl C. asked to join."
    assert rows[unrelated.pk].body == "Bring a chair."


def test_nothing_to_look_for_empties_nothing() -> None:
    message(make_user("eve@example.com"), "a", "Hello.")

    assert erasure.bodies_forget(naming=["", ""], subject_prefixes=[]) == 0
    assert Notification.objects.get().body == "Hello."


def test_a_message_emptied_before_delivery_is_not_sent() -> None:
    # Emptied while a delivery held it; the delivery then failed and left it to retry.
    row = message(make_user("eve@example.com"), "a", "", S.FAILED_TRANSIENT)

    outcome = delivery.deliver(row.pk)

    assert (outcome.sent, outcome.skipped) == (0, 1)
    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == S.SKIPPED
