"""A circle's facilitators organise its events: the "Facilitators" group opens the events admin.

Which events a facilitator sees there is decided by his circles (events.scope);
the group only needs the same model permissions as the "Organisers" group
(events.groups). Granted after every `migrate` and every test flush
(post_migrate), like the groups themselves. Idempotent: adds what is missing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import router

from circles.groups import GROUP as FACILITATORS
from events.groups import PERMISSIONS


def ensure(*, using: str = "default", **kwargs: Any) -> None:
    if not router.allow_migrate_model(using, Group):
        return
    create_permissions(apps.get_app_config("events"), verbosity=0, using=using)
    group, _ = Group.objects.using(using).get_or_create(name=FACILITATORS)
    group.permissions.add(
        *Permission.objects.using(using).filter(
            content_type__app_label="events", codename__in=PERMISSIONS
        )
    )
