"""Background work for accounts (django-tasks; `manage.py db_worker` runs it)."""

from __future__ import annotations

from django_tasks import task

from accounts import services


@task()
def password_reset_request(email: str) -> str:
    """Look the address up and send its reset link, away from the request that asked."""
    sent = services.password_reset_request(email=email)
    return f"{sent} sent"
