"""Keep `creds` in step with `default` where no cascade can cross databases."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import User
from accounts.services import credentials_purge


@receiver(post_delete, sender=User, dispatch_uid="accounts.delete_credentials")
def delete_credentials(sender: type[User], instance: User, **kwargs: Any) -> None:
    # A signal rather than User.delete(): queryset and admin bulk deletes
    # never call the model method, but they do send post_delete.
    credentials_purge(user_id=instance.pk)
