"""The admin site: Django's, with every URL that names an object held to what the user may see.

Each ModelAdmin scopes its own lists and querysets (circles/admin.py: a
facilitator sees only his circles). Some URLs get around them in stock Django,
and are guarded here for every signed-in staff user:

- "view on site" (`/admin/r/<content type>/<pk>/`) redirects to the object's
  public page and so told any staff user any circle's slug. Now 404 unless he
  can open that object in the admin.
- An object URL (change, delete, history, password, a ModelAdmin's own views)
  of a model he has no permission on answered 403 for an object that exists
  but redirected for one that does not (`history` looks the object up first):
  which ids exist could be read off. Now 403 for every id of a section he
  cannot use, and 404 for an object he may not see, found or not (the
  circles admins, scoped to his circles, answer 404 in either case).
- dj-stripe's custom actions (`/admin/djstripe/<model>/action/<action>/<model>/`)
  check no permission at all: any staff user could cancel a member's
  subscription. Now 404 unless he may change that model and its admin offers
  him the action.

Anyone not allowed into the admin at all goes on to Django's own sign-in redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver

NOT_FOUND = "No such object."
Check = Callable[..., None]


class AdminSite(admin.AdminSite):
    site_header = "Men's Circle admin"
    site_title = "Men's Circle admin"
    index_title = "Run your circles"

    def get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super().get_urls()
        by_prefix = {
            f"{model._meta.app_label}/{model._meta.model_name}/": model_admin
            for model, model_admin in self._registry.items()
        }
        for entry in urls:
            if isinstance(entry, URLPattern) and entry.name == "view_on_site":
                self._guard(entry, self._check_view_on_site)
            model_admin = by_prefix.get(str(entry.pattern))
            if isinstance(entry, URLResolver) and model_admin is not None:
                for pattern in _patterns(entry.url_patterns):
                    if pattern.name == "djstripe_custom_action":
                        self._guard(pattern, self._check_custom_action)
                    elif {"object_id", "id"} & set(getattr(pattern.pattern, "converters", {})):
                        self._guard(pattern, _object_check(model_admin))
        return urls

    def _guard(self, pattern: URLPattern, check: Check) -> None:
        """Run `check(request, **kwargs)` (which raises 403/404) before the view, for staff."""
        view = pattern.callback

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if self.has_permission(request):
                check(request, *args, **kwargs)
            return view(request, *args, **kwargs)

        pattern.callback = update_wrapper(guarded, view)

    def _check_view_on_site(
        self, request: HttpRequest, content_type_id: str, object_id: str
    ) -> None:
        try:
            model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
        except (ValueError, ContentType.DoesNotExist):
            raise Http404(NOT_FOUND) from None
        model_admin = self._registry.get(model) if model is not None else None
        if model_admin is None:
            raise Http404(NOT_FOUND)
        try:
            _object_check(model_admin)(request, object_id=object_id)
        except PermissionDenied:
            raise Http404(NOT_FOUND) from None

    def _check_custom_action(self, request: HttpRequest, action_name: str, model_name: str) -> None:
        try:
            model = apps.get_app_config("djstripe").get_model(model_name)
        except LookupError:
            raise Http404(NOT_FOUND) from None
        model_admin = self._registry.get(model)
        if not (
            model_admin is not None
            and model_admin.has_change_permission(request)
            and action_name in model_admin.get_actions(request)
        ):
            raise Http404(NOT_FOUND)


def _object_check(model_admin: admin.ModelAdmin) -> Check:
    """403 for a section the user cannot use at all; 404 for an object he may not see."""

    def check(request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        object_id = kwargs.get("object_id", kwargs.get("id"))
        to_field = request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR))
        if not (to_field and model_admin.to_field_allowed(request, to_field)):
            to_field = None  # the view itself refuses a disallowed one
        # The ModelAdmin's own lookup, through its scoped queryset (the circles
        # admins answer 404 themselves outside his circles, found or not).
        obj = model_admin.get_object(request, unquote(str(object_id)), to_field)
        if not any(model_admin.get_model_perms(request).values()):
            raise PermissionDenied
        if obj is None or not (
            model_admin.has_view_or_change_permission(request, obj)
            or model_admin.has_delete_permission(request, obj)
        ):
            raise Http404(NOT_FOUND)

    return check


def _patterns(urls: list[Any]) -> list[URLPattern]:
    """Every URL pattern under `urls`, through included resolvers."""
    found: list[URLPattern] = []
    for entry in urls:
        if isinstance(entry, URLResolver):
            found += _patterns(entry.url_patterns)
        else:
            found.append(entry)
    return found
