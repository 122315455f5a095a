"""The "Facilitators" group and the model permissions the facilitator admin needs.

Which circles a facilitator sees is decided by his memberships (see
circles/admin.py); this group only opens the admin pages to him. Made by a
migration (0002) and again after every `migrate` and every test flush
(post_migrate), so a database emptied by a test keeps it. Idempotent: adds
what is missing, removes nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import router

GROUP = "Facilitators"
PERMISSIONS = [
    "view_circle",
    "change_circle",
    "view_membership",
    "change_membership",
    "add_meeting",
    "view_meeting",
    "change_meeting",
    "add_attendance",
    "view_attendance",
    "change_attendance",
    "add_agreement",
    "view_agreement",
    # Private notes about members: the admin shows each facilitator only his own.
    "add_facilitatornote",
    "view_facilitatornote",
    "change_facilitatornote",
    "delete_facilitatornote",
]


def ensure(*, using: str = "default", **kwargs: Any) -> None:
    """Create the group with its permissions where auth's tables live (a post_migrate handler)."""
    if not router.allow_migrate_model(using, Group):
        return
    # auth makes permissions on post_migrate too, maybe after this handler.
    create_permissions(apps.get_app_config("circles"), verbosity=0, using=using)
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    permissions = Permission.objects.using(using).filter(
        content_type__app_label="circles", codename__in=PERMISSIONS
    )
    group.permissions.add(*permissions)
