"""The two-database invariant: every secret in `creds`, nothing else there."""

from __future__ import annotations

from typing import Any

CREDS_DB = "creds"

# Models whose rows are secrets (lower-case "app_label.model_name"). Listed
# here rather than discovered so that a migration for a deleted model still
# routes correctly and a reviewer sees the whole set in one place.
CREDENTIAL_MODELS = frozenset(
    {
        "accounts.credential",
        "accounts.googleidentity",
        "accounts.phonechallenge",
        "accounts.recoverycode",
        "accounts.revokedtoken",
        "accounts.session",
        "accounts.totpdevice",
        "circles.calendarfeed",
        "circles.facilitatornote",
    }
)


def is_credential_model(app_label: str, model_name: str | None) -> bool:
    return f"{app_label}.{model_name}".lower() in CREDENTIAL_MODELS


class CredentialsRouter:
    """Send credential models to `creds` for reads, writes and migrations."""

    def _db_for(self, model: Any) -> str:
        return CREDS_DB if model._meta.label_lower in CREDENTIAL_MODELS else "default"

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self._db_for(model)

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self._db_for(model)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # No foreign key crosses databases.
        # obj._meta, not type(obj): request.user is a lazy wrapper around a User.
        return self._db_for(obj1) == self._db_for(obj2)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if model_name is None:
            # RunSQL / RunPython without a model: main database unless the
            # operation names its target explicitly.
            return db == hints.get("target_db", "default")
        return (db == CREDS_DB) == is_credential_model(app_label, model_name)
