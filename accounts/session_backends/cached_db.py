from __future__ import annotations

from django.contrib.sessions.backends import cached_db

from accounts.session_backends import UserSessionMixin


class SessionStore(UserSessionMixin, cached_db.SessionStore):
    pass
