from __future__ import annotations

import sys

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from drf_spectacular.views import SpectacularSwaggerSplitView

from circles import caching
from notifications import sms

# How long a client should wait before trying again after a 503 (seconds).
RETRY_AFTER = 30


def _home_scopes(request: HttpRequest) -> list[str]:
    return [caching.SITE]


@caching.cached_page(_home_scopes)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"texts": sms.is_available()})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def _database_unavailable() -> bool:
    """Is the error being handled a database we can't reach (or lost mid-request)?

    handler500 runs inside Django's `except` block, so the exception is at hand.
    """
    return isinstance(sys.exc_info()[1], OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django has already logged the exception with its stack trace (django.request).
    if _database_unavailable():
        return service_unavailable(request)
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503: a dependency is down, not a bug. Like 500.html, 503.html needs no database."""
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            {"detail": "Service temporarily unavailable."}, status=503
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


# Django refuses a body past DATA_UPLOAD_MAX_MEMORY_SIZE, or too many fields, as a 400.
TOO_LARGE = "Request body too large."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
            detail = TOO_LARGE
        elif isinstance(exception, BadRequest) and exception.args:
            detail = str(exception)  # ours name what was wrong (mensc.middleware)
        else:
            detail = "Bad request."
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Permission denied."}, status=403)
    return defaults.permission_denied(request, exception)


# The split view serves Swagger UI's start-up script as a file of its own, so
# the page needs no inline script; the template's small inline <style> is why
# this page (DEBUG only) allows inline styles and nothing else does.
_swagger = SpectacularSwaggerSplitView.as_view(url_name="api:schema")
API_DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)


def api_docs(request: HttpRequest) -> HttpResponse:
    """The browsable API docs: a development aid, absent in production."""
    if not settings.DEBUG:
        raise Http404  # answered by page_not_found, as JSON under /api/
    response = _swagger(request)
    response["Content-Security-Policy"] = API_DOCS_CSP
    return response
