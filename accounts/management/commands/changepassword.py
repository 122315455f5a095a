"""changepassword that finds the account by its canonical address.

Django's command looks the user up by the exact stored address, so an
operator typing `Tim.Victim@Example.org` for `tim.victim@example.org` would be
told there is no such user. Everything else is Django's own command.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.core.management.base import CommandError

from accounts.models import User


class Command(changepassword.Command):
    help = "Change a member's password (EMAIL in any spelling of the address)."

    def handle(self, *args: Any, **options: Any) -> str:
        typed = options["username"] or getpass.getuser()
        user = User.objects.db_manager(options["database"]).with_email(typed).first()
        if user is None:
            raise CommandError(f"user '{typed}' does not exist")
        return super().handle(*args, **{**options, "username": user.email})
