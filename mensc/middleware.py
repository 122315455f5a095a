"""Middleware for running behind a proxy (request ids, client address, CSP) and bad input."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import BadRequest, ValidationError
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse, QueryDict

from mensc import log

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Give every request an id: the proxy's or client's when valid, else a new one.

    The id is ``request.id``, goes back in the ``X-Request-ID`` response header
    and is on every log line written while the request is served
    (``mensc.log.JsonFormatter``), Django's own "Not Found" and error lines
    included, which are written after the middleware returns: the id is
    forgotten only when the response is closed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER)
        request.id = given if log.valid_request_id(given) else log.new_request_id()
        log.request_id.set(request.id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.id
        return response


def _forget_request_id(**kwargs: Any) -> None:
    log.request_id.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="mensc.forget_request_id")


class RealIpMiddleware:
    """Take the client's address from ``X-Real-IP`` when the proxy is trusted.

    Behind nginx every request comes from nginx's address, so per-address
    limits (sign-in throttling) would lump every client together. Only with
    ``USE_X_REAL_IP`` on, and only where nothing but the proxy can reach the
    app (deploy/: nginx overwrites the header; Kubernetes: the Ingress does).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.USE_X_REAL_IP:
            # No header, or not an address: keep the peer's.
            with contextlib.suppress(ValueError):
                real_ip = request.headers.get("X-Real-IP", "").strip()
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(real_ip))
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` unless the view set its own.

    Django 5.2 has no CSP of its own (6.0 does); a view that needs a looser
    policy (the DEBUG-only API docs) sets the header itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.CONTENT_SECURITY_POLICY
            and "Content-Security-Policy" not in response
            # With DEBUG on, 404 and 500 are Django's technical pages, all inline
            # style and script: a developer should see them whole.
            and not (settings.DEBUG and response.status_code in (404, 500))
        ):
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


NUL_REFUSED = "A NUL character (\\0) is not allowed in an address or a form."
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class NulByteMiddleware:
    """A NUL byte in the address or a form is a 400; a cookie holding one is dropped.

    PostgreSQL cannot store NUL in text and refuses a query that holds one
    (``DataError``): a NUL in an admin filter, search or selection, or in a
    session cookie, was a 500 wherever the value reached a query. Django's
    form fields already refuse NUL; this covers every value that skips them.
    A cookie is dropped rather than refused, so a bad cookie cannot lock a man
    out of every page until he clears it: a mangled session is no session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, value in list(request.COOKIES.items()):
            if "\0" in name or "\0" in value:
                del request.COOKIES[name]
        if "\0" in request.path or any(
            "\0" in text for text in _fields(request.GET) + self._form_fields(request)
        ):
            raise BadRequest(NUL_REFUSED)
        return self.get_response(request)

    @staticmethod
    def _form_fields(request: HttpRequest) -> list[str]:
        # Only bodies Django itself parses as a form; JSON and webhooks are read by their views.
        if request.method != "POST" or not request.content_type.startswith(_FORM_TYPES):
            return []
        return _fields(request.POST)


def _fields(query: QueryDict) -> list[str]:
    return [text for key, values in query.lists() for text in (key, *values)]


NOT_ROWS = "The selection holds something that is not a row of this list: nothing was changed."
# PostgreSQL's bigint: a larger number names no row, and a query holding one fails.
_BIGINT = range(-(2**63), 2**63)


class AdminSelectionMiddleware:
    """An admin action runs only on ids that can be ids of the list's model; else a 400.

    Django's admin filters with ``pk__in=<the ticked boxes>`` as sent, so a
    forged ``_selected_action=abc`` raised ValueError (a 500) on every
    changelist with actions: ours, Django's and dj-stripe's alike. Each admin
    view carries its ModelAdmin (``view_func.model_admin``), hence the model.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, *args: Any) -> None:
        model_admin = getattr(view_func, "model_admin", None)
        if model_admin is None or request.method != "POST":
            return
        pk = model_admin.model._meta.pk
        if not all(_could_be(pk, value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME)):
            raise BadRequest(NOT_ROWS)


def _could_be(field: Any, value: str) -> bool:
    try:
        pk = field.to_python(value)
    except ValidationError:
        return False
    return pk is not None and (not isinstance(pk, int) or pk in _BIGINT)


HEALTH_PREFIX = "/api/v1/health"


class HealthProbeMiddleware:
    """Answer the health URLs here, before sessions, CSRF, sign-in, messages and htmx.

    A load balancer asks every few seconds and sends no cookie: none of the
    middleware below has anything to do for it, and each costs time on every
    probe. GET and HEAD only; any other method goes the whole way (its 405 is
    the API's). The views and their answers are the URL map's own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from mensc import api

        self.get_response = get_response
        self.views = {
            "": api.HealthView.as_view(),
            "/ready": api.ReadyView.as_view(),
            "/live": api.LiveView.as_view(),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(HEALTH_PREFIX) and request.method in ("GET", "HEAD"):
            view = self.views.get(path[len(HEALTH_PREFIX) :].removesuffix("/"))
            if view is not None:
                # Rendered here, as Django's handler renders what the URL map's views answer;
                # and with the two headers the skipped middleware would have added.
                response = view(request).render()
                response.headers["Content-Length"] = str(len(response.content))
                response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
                return response
        return self.get_response(request)
