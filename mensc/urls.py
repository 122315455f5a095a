from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from accounts import api as accounts_api
from billing import views as billing_views
from mensc import api, views

api_patterns = [
    path("", api.ApiRootView.as_view(), name="root"),
    # Probes get an answer with or without the slash, never a redirect.
    re_path(r"^health/?$", api.HealthView.as_view(), name="health"),
    re_path(r"^health/ready/?$", api.ReadyView.as_view(), name="ready"),
    re_path(r"^health/live/?$", api.LiveView.as_view(), name="live"),
    path("auth/token/", accounts_api.TokenView.as_view(), name="token"),
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("", include("circles.api_urls")),
    path("", include("events.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.api_docs, name="docs"),
]

# The design card lists refresh/, verify/ and logout/ beside token/; clients
# written for simplejwt's layout expect them under token/. Both answer.
for _prefix in ("auth/", "auth/token/"):
    _name = _prefix.replace("/", "_")
    api_patterns += [
        path(f"{_prefix}refresh/", accounts_api.TokenRefreshView.as_view(), name=f"{_name}refresh"),
        path(f"{_prefix}verify/", accounts_api.TokenVerifyView.as_view(), name=f"{_name}verify"),
        path(f"{_prefix}logout/", accounts_api.LogoutView.as_view(), name=f"{_name}logout"),
    ]

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/", include((api_patterns, "api"))),
    path("accounts/", include("accounts.urls")),
    path("", include("circles.urls")),
    path("", include("events.urls")),
    path("billing/", include("billing.urls")),
    path("stripe/webhook/", billing_views.stripe_webhook, name="stripe_webhook"),
    path("webhooks/", include("notifications.urls")),
    # The admin's own password change checks the old password unthrottled.
    path(
        "admin/password_change/",
        RedirectView.as_view(pattern_name="accounts:password_change", permanent=False),
    ),
    path("admin/", admin.site.urls),
]

handler400 = "mensc.views.bad_request"
handler403 = "mensc.views.permission_denied"
handler404 = "mensc.views.page_not_found"
handler500 = "mensc.views.server_error"
