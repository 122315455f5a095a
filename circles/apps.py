from __future__ import annotations

from django.apps import AppConfig


class CirclesConfig(AppConfig):
    name = "circles"
    verbose_name = "Circles"

    def ready(self) -> None:
        from circles import receivers  # noqa: F401  (connects the handlers)
