"""`migrate` brings every database up to date unless told which one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands import migrate


class Command(migrate.Command):
    help = "Updates the schema of both databases (default and creds), or of --database only."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        for action in parser._actions:
            if action.dest == "database":
                action.default = None
                action.help = "Migrate only this database (default: all of them)."

    def get_check_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:
        kwargs = super().get_check_kwargs(options)
        return {
            **kwargs,
            "databases": [options["database"]] if options["database"] else list(settings.DATABASES),
        }

    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] is not None:
            super().handle(*args, **options)
            return
        for alias in settings.DATABASES:
            if options["verbosity"] >= 1:
                self.stdout.write(self.style.MIGRATE_HEADING(f"Database {alias}:"))
            super().handle(*args, **{**options, "database": alias})
