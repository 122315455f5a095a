"""OpenAPI description of the API's authentication and of its error answers.

Every status code an operation can return is in the schema, with its body
(checked by tests/fuzz/test_api_contract.py). The errors that depend only on
how a view is built are added here for every operation, so no view can
forget one:

- 401 where the view reads credentials: a bad, expired or revoked token, or
  none where the operation needs one;
- 403 on a write that a session may authenticate: a missing CSRF token;
- 400 everywhere: a NUL character in the address or a form (mensc.middleware), and
  where the operation takes a body, a body that cannot be read or a wrong field;
- 404 on a paged list: a `cursor` the list did not give out.

Answers particular to one view (a 429, a 404 for an object) are declared
on the view with ``extend_schema``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication

ERROR = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(required=False, help_text="Present for token errors."),
    },
)
UNAUTHORIZED = OpenApiResponse(
    ERROR, description="The credentials sent are not valid (or none were sent where needed)."
)
BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='The request could not be read (`{"detail": "..."}`: a NUL character in '
    "it, a body that is not JSON, too large or nested too deeply) or a field is wrong "
    '(`{"<field>": ["<message>", ...]}`).',
)
CSRF_FAILED = OpenApiResponse(
    ERROR, description="Signed in by session cookie: the CSRF token is missing or wrong."
)
NO_SUCH_PAGE = OpenApiResponse(
    ERROR, description="`cursor` is not one this list gave out: start again without it."
)
THROTTLED = OpenApiResponse(ERROR, description="Too many attempts: try again later.")


class JWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        authenticators = self.view.get_authenticators()
        writes = self.method in ("POST", "PUT", "PATCH", "DELETE")
        errors = {"400": BAD_REQUEST}
        if authenticators:
            errors["401"] = UNAUTHORIZED
        if writes and any(isinstance(a, SessionAuthentication) for a in authenticators):
            errors["403"] = CSRF_FAILED
        if self._is_list_view() and self._get_paginator() is not None:
            errors["404"] = NO_SUCH_PAGE
        return errors
