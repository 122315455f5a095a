from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MenscConfig(AppConfig):
    name = "mensc"
    verbose_name = "Men's Circle"

    def ready(self) -> None:
        from mensc import checks  # noqa: F401 (registers the system checks)


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site (mensc.admin_site): site-wide URLs scoped too."""

    default = False  # "mensc" alone still means MenscConfig

    default_site = "mensc.admin_site.AdminSite"
