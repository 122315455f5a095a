from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for the embedded default (`manage.py seed_demo`); no models.

    It sits above every feature app, so it may put any of them to use.
    """

    name = "demo"
    verbose_name = "Demo data"
