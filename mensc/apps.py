from __future__ import annotations

from django.apps import AppConfig


class MenscConfig(AppConfig):
    name = "mensc"
    verbose_name = "Men's Circle"
