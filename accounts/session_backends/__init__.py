"""The session engine: `accounts.Session` rows (in `creds`) with the user's id.

Sessions rest only in the credentials database, never in the cache (see
mensc.settings, SESSION_ENGINE).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

# Django makes every key 32 characters of [a-z0-9] (SessionBase._get_new_session_key).
KEY_LENGTH = 32


class UserSessionMixin:
    def _validate_session_key(self, key: str | None) -> bool:
        # A cookie of any other shape is no session and costs no query: one
        # holding a NUL byte made PostgreSQL raise DataError (a 500) on every page.
        return isinstance(key, str) and len(key) == KEY_LENGTH and set(key) <= set(VALID_KEY_CHARS)

    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        obj = super().create_model_instance(data)  # type: ignore[misc]
        user_id = data.get(SESSION_KEY)
        obj.user_id = int(user_id) if user_id else None
        return obj
