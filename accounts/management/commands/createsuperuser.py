"""createsuperuser for a user model whose password lives in `creds`.

Django's command only asks for (or reads DJANGO_SUPERUSER_PASSWORD into) a
model field called "password"; ours has none, so the stock command would make
a superuser who can never sign in.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core import exceptions
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS

from accounts.models import User


class Command(BaseCommand):
    help = (
        "Create a superuser. With --noinput, the email and password come from "
        "--email / DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", help="Email address (the sign-in name).")
        parser.add_argument("--full-name", dest="full_name", help="Full name.")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not prompt; read missing values from DJANGO_SUPERUSER_* variables.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"] or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        full_name = options["full_name"] or os.environ.get("DJANGO_SUPERUSER_FULL_NAME", "")
        if options["interactive"]:
            email = email or input("Email address: ").strip()
            full_name = full_name or input("Full name: ").strip()
        self._check_email(email, options["database"])
        user = User(email=User.objects.normalize_email(email), full_name=full_name)
        if options["interactive"]:
            password: str | None = self._ask_password(user)
        else:
            password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
            if password is not None:
                self._validate(password, user)
        User.objects.db_manager(options["database"]).create_superuser(
            email=user.email, password=password, full_name=full_name
        )
        if password is None:
            self.stdout.write(
                "Superuser created without a password (set DJANGO_SUPERUSER_PASSWORD, or "
                "run changepassword)."
            )
        else:
            self.stdout.write("Superuser created successfully.")

    def _check_email(self, email: str, database: str) -> None:
        if not email:
            raise CommandError("You must use --email (or DJANGO_SUPERUSER_EMAIL) with --noinput.")
        try:
            validate_email(email)
        except exceptions.ValidationError as err:
            raise CommandError(f"Error: {email!r} is not a valid email address.") from err
        # Any spelling of an address that has an account is that account.
        if User.objects.db_manager(database).with_email(email).exists():
            raise CommandError("Error: That email address is already taken.")

    def _validate(self, password: str, user: User) -> None:
        if not password.strip():
            raise CommandError("Error: Blank passwords aren't allowed.")
        try:
            validate_password(password, user)
        except exceptions.ValidationError as err:
            raise CommandError("Error: " + " ".join(err.messages)) from err

    def _ask_password(self, user: User) -> str:
        while True:
            password = getpass.getpass()
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("Error: Your passwords didn't match.")
                continue
            try:
                self._validate(password, user)
            except CommandError as err:
                self.stderr.write(str(err))
                continue
            return password
