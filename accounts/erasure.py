"""What deleting an account erases of accounts' own, and of the message log below it.

His user row, credentials, sessions, two-factor devices, phone codes, Google
link and revoked-token ids go with the row itself (the post_delete handler
calls services.credentials_purge). Left here: what names him in rows that
are not his (the admin log, background-task records, other men's messages)
and the STOP of his number. notifications sits below accounts and cannot
register with accounts.personal_data: its part is registered here.
"""

from __future__ import annotations

import re

from django.contrib.admin.models import LogEntry
from django.db.models import Q
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts import personal_data
from accounts.canonical import email_key
from accounts.models import User
from accounts.tasks import password_reset_request
from notifications import erasure as messages_erasure

DELETED = "deleted account #{pk}"


def names_of(user: User) -> list[str]:
    """The strings that name him precisely enough to search other rows for.

    A one-word name ("Bob") would match too much of everyone else's text.
    """
    names = [user.email]
    if len(user.full_name.split()) > 1:
        names.append(user.full_name)
    if user.phone:
        names.append(user.phone)
    return names


def erase(user: User) -> None:
    """Forget him where he is named in rows that are not his own."""
    # The admin log names objects by their str(): a membership or an RSVP is
    # "<his address> in <circle>" (his user row's entries: credentials_purge).
    # Whole words only: bob@example.com is not in "jimbob@example.com in Elm".
    named = Q(pk__in=[])
    for name in names_of(user):
        named |= Q(object_repr__iregex=rf"(^|[^\w.+-]){re.escape(name)}($|[^\w.-])")
    LogEntry.objects.filter(named).update(object_repr=DELETED.format(pk=user.pk))
    _task_records_forget(user)
    messages_erasure.bodies_forget(naming=names_of(user))
    if user.verified_phone:
        # A number he proved is his: its STOP goes with him. A number he only
        # typed may be a stranger's, whose STOP must stay.
        messages_erasure.sms_opt_out_forget(phone=user.verified_phone)


def _task_records_forget(user: User) -> None:
    # The reset page hands the address typed (any spelling) to a background
    # task, whose record keeps it until purge_notifications. A running task's
    # record is left alone: its worker writes it back when done.
    path = password_reset_request.module_path
    key = user.email_key or email_key(user.email)
    records = DBTaskResult.objects.filter(task_path=path).exclude(status=TaskResultStatus.RUNNING)
    ids = [
        record.pk
        for record in records.only("pk", "args_kwargs").iterator()
        if any(
            isinstance(arg, str) and email_key(arg) == key for arg in _arguments(record.args_kwargs)
        )
    ]
    DBTaskResult.objects.filter(pk__in=ids).delete()


def _arguments(args_kwargs: object) -> list[object]:
    if not isinstance(args_kwargs, dict):
        return []
    return [*args_kwargs.get("args", []), *dict(args_kwargs.get("kwargs", {})).values()]


def register() -> None:
    personal_data.eraser("accounts", erase=erase)
