"""The session engine: `accounts.Session` rows (in `creds`) with the user's id.

Sessions rest only in the credentials database, never in the cache (see
mensc.settings, SESSION_ENGINE).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY


class UserSessionMixin:
    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        obj = super().create_model_instance(data)  # type: ignore[misc]
        user_id = data.get(SESSION_KEY)
        obj.user_id = int(user_id) if user_id else None
        return obj
