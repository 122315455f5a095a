"""The "Organisers" group and the model permissions the events admin needs.

Which events an organiser sees is decided by the event's organisers and, for a
circle's event, the circle's facilitators (events.admin); this group only opens
the admin pages to staff who organise. Made by a migration (0002) and again
after every `migrate` and every test flush (post_migrate), so a database
emptied by a test keeps it. Idempotent: adds what is missing, removes nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import router

GROUP = "Organisers"
PERMISSIONS = [
    "add_event",
    "view_event",
    "change_event",
    "add_tickettier",
    "view_tickettier",
    "change_tickettier",
    "delete_tickettier",
    "add_question",
    "view_question",
    "change_question",
    "delete_question",
    "view_registration",
    "change_registration",
    "view_answer",
]


def ensure(*, using: str = "default", **kwargs: Any) -> None:
    """Create the group with its permissions where auth's tables live (a post_migrate handler)."""
    if not router.allow_migrate_model(using, Group):
        return
    # auth makes permissions on post_migrate too, maybe after this handler.
    create_permissions(apps.get_app_config("events"), verbosity=0, using=using)
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    permissions = Permission.objects.using(using).filter(
        content_type__app_label="events", codename__in=PERMISSIONS
    )
    group.permissions.add(*permissions)
