from __future__ import annotations

from django.contrib.sessions.backends import db

from accounts.session_backends import UserSessionMixin


class SessionStore(UserSessionMixin, db.SessionStore):
    pass
