"""Keep `creds` in step with `default` where no cascade can cross databases."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts import two_factor
from accounts.models import User
from accounts.services import credentials_purge


@receiver(post_delete, sender=User, dispatch_uid="accounts.delete_credentials")
def delete_credentials(sender: type[User], instance: User, **kwargs: Any) -> None:
    # A signal rather than User.delete(): queryset and admin bulk deletes
    # never call the model method, but they do send post_delete.
    credentials_purge(user_id=instance.pk)


@receiver(user_logged_in, dispatch_uid="accounts.two_factor_pending")
def two_factor_pending(sender: type[User], request: Any, user: User, **kwargs: Any) -> None:
    # Every sign-in (the site's page, /admin/login/, Google) ends here: with
    # two-factor on, the session counts only once the code is entered.
    if request is not None and hasattr(request, "session"):
        two_factor.session_signed_in(request.session, user)
