"""How an admin change page writes a row that other processes write too.

Django's admin saves the whole row it read (`obj.save()`): every column, the
ones its form does not show included. A user's credential stamp moved by a
password change, a membership's status moved by a seat offer, a scholarship
decided a moment earlier: the admin would write them back as they were. With
this mixin a change page writes only the columns its form changed; adding a
row is Django's own insert.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest


def changed_columns(obj: models.Model, changed_data: list[str]) -> list[str]:
    """The names in a form's `changed_data` that are columns of `obj` (not m2m, not the pk)."""
    columns = {f.name for f in obj._meta.concrete_fields if not f.primary_key}
    return [name for name in changed_data if name in columns]


class ChangedFieldsOnly:
    """A ModelAdmin whose change page writes back only what its form changed."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = changed_columns(obj, form.changed_data)
        if fields:  # nothing changed: nothing written
            obj.save(update_fields=fields)
