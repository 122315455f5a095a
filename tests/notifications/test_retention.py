"""A message's subject and body are dropped NOTIFICATION_BODY_DAYS after it is done with."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications.models import Notification
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")

S = Notification.Status


def row(user, key: str, status: str, *, days_ago: int, sent: bool = True, **extra) -> Notification:
    when = timezone.now() - timedelta(days=days_ago)
    notification = Notification.objects.create(
        user=user,
        channel="email",
        kind="broadcast",
        subject_key=key,
        subject="About Tuesday",
        body="Private words.",
        html_body="<p>Private words.</p>",
        status=status,
        sent_at=when if sent else None,
        **extra,
    )
    Notification.objects.filter(pk=notification.pk).update(created_at=when)
    return notification


def test_purge_drops_old_bodies_and_keeps_what_happened(settings) -> None:
    settings.NOTIFICATION_BODY_DAYS = 30
    user = make_user("eve@example.com")
    old_sent = row(user, "a", S.SENT, days_ago=31)
    old_delivered = row(user, "b", S.DELIVERED, days_ago=40)
    old_failed = row(user, "c", S.FAILED_PERMANENT, days_ago=31, sent=False)
    old_stuck_at_most_once = row(user, "d", S.SENDING, days_ago=31, sent=False, at_most_once=True)
    recent = row(user, "e", S.SENT, days_ago=29)
    old_but_due = row(user, "f", S.FAILED_TRANSIENT, days_ago=31, sent=False)
    out = StringIO()

    call_command("purge_notifications", stdout=out)

    assert "Message bodies dropped: 4 (older than 30 days)." in out.getvalue()
    for purged in (old_sent, old_delivered, old_failed, old_stuck_at_most_once):
        before = purged.status, purged.kind, purged.channel, purged.sent_at
        purged.refresh_from_db()
        assert (purged.subject, purged.body, purged.html_body) == ("", "", "")
        assert (purged.status, purged.kind, purged.channel, purged.sent_at) == before
    for kept in (recent, old_but_due):
        kept.refresh_from_db()
        assert kept.body == "Private words." and kept.subject == "About Tuesday"

    out = StringIO()
    call_command("purge_notifications", stdout=out)
    assert "Message bodies dropped: 0" in out.getvalue()


def test_days_can_be_given_and_must_not_be_negative() -> None:
    user = make_user("eve@example.com")
    message = row(user, "a", S.SENT, days_ago=3)

    call_command("purge_notifications", "--days", "2", stdout=StringIO())
    message.refresh_from_db()
    assert message.body == ""
    with pytest.raises(CommandError, match="0 or more"):
        call_command("purge_notifications", "--days", "-1", stdout=StringIO())


def test_purge_drops_task_records_finished_over_a_day_ago(settings) -> None:
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import password_reset_request

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    old, recent, queued = (password_reset_request.enqueue(f"{n}@example.com") for n in "abc")
    now = timezone.now()
    DBTaskResult.objects.filter(id__in=[old.id, recent.id]).update(
        status="SUCCESSFUL", finished_at=now - timedelta(hours=1)
    )
    DBTaskResult.objects.filter(id=old.id).update(finished_at=now - timedelta(hours=25))
    out = StringIO()

    call_command("purge_notifications", stdout=out)

    assert "Task records dropped: 1 (finished over a day ago)." in out.getvalue()
    assert {str(pk) for pk in DBTaskResult.objects.values_list("id", flat=True)} == {
        recent.id,
        queued.id,
    }
