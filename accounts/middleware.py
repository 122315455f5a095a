from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts import two_factor


class TimezoneMiddleware:
    """Show times on pages in the signed-in member's own time zone.

    The API speaks UTC (ISO 8601), and must not load a session for a probe, so
    /api/ is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with timezone.override(self._zone(request)):
            return self.get_response(request)

    @staticmethod
    def _zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or user is None or not user.is_authenticated:
            return None  # the site's default (UTC)
        try:
            return zoneinfo.ZoneInfo(user.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None


class TwoFactorMiddleware:
    """Hold a signed-in man at the code page until he passes his second factor.

    Whichever form signed him in (the site's sign-in page, /admin/login/,
    Google), the session only counts once accounts.two_factor marked it
    passed:

    - an account with two-factor on reaches nothing but the code page and
      sign-out until then (its session is no session for the API);
    - a staff user reaches no /admin/ page until then, and one without an
      authenticator is sent to set one up.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/api/"):
            # A half-signed-in session is simply none for the API. Decided only
            # when something asks who the user is: a probe loads no session.
            signed_in_as = request.user
            request.user = SimpleLazyObject(
                lambda: (
                    AnonymousUser()
                    if two_factor.session_state(request.session) == two_factor.PENDING
                    else signed_in_as
                )
            )
            return self.get_response(request)
        if path.startswith(STATIC_PREFIX) or path in _open_paths():
            return self.get_response(request)
        state = two_factor.session_state(request.session)  # no query without a cookie
        if state == two_factor.PASSED:
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        admin = path.startswith(reverse("admin:index"))
        if state == two_factor.PENDING or (admin and two_factor.is_required(user)):
            verify = reverse("accounts:two_factor_verify")
            return HttpResponseRedirect(f"{verify}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


STATIC_PREFIX = "/static/"


def _open_paths() -> set[str]:
    """Where a man whose code is still to come may go: the code page, and out."""
    return {
        reverse("accounts:two_factor_verify"),
        reverse("accounts:logout"),
        reverse("admin:logout"),
    }
