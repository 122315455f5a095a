from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from mensc import api, views

api_patterns = [
    path("", api.ApiRootView.as_view(), name="root"),
    # Probes get an answer with or without the slash, never a redirect.
    re_path(r"^health/?$", api.HealthView.as_view(), name="health"),
    re_path(r"^health/ready/?$", api.ReadyView.as_view(), name="ready"),
    re_path(r"^health/live/?$", api.LiveView.as_view(), name="live"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.api_docs, name="docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/", include((api_patterns, "api"))),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "mensc.views.bad_request"
handler403 = "mensc.views.permission_denied"
handler404 = "mensc.views.page_not_found"
handler500 = "mensc.views.server_error"
