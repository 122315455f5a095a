"""Background work (django-tasks; `manage.py db_worker` runs it in production)."""

from __future__ import annotations

from django_tasks import task

from notifications import delivery


@task()
def deliver_notification(notification_id: int) -> str:
    """Deliver one queued message; a row already sent (or being sent) is left alone."""
    outcome = delivery.deliver(notification_id)
    return "sent" if outcome.sent else "nothing to do" if not outcome.ids else "not sent"
