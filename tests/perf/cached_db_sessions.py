"""The session engine the site used before issue 11, kept only to measure against.

`accounts.Session` rows (in `creds`) with Django's cached_db in front: the
session key names a Redis entry holding the session's data. Not offered to
operators (see README, "Sessions rest only in creds").
"""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db

from accounts.session_backends import UserSessionMixin


class SessionStore(UserSessionMixin, cached_db.SessionStore):
    pass
