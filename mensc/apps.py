from __future__ import annotations

from django.apps import AppConfig


class MenscConfig(AppConfig):
    name = "mensc"
    verbose_name = "Men's Circle"

    def ready(self) -> None:
        from mensc import checks  # noqa: F401 (registers the system checks)
