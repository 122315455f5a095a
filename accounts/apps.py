from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import (
            erasure,
            exports,
            messages,
            personal_data,
            receivers,  # noqa: F401  (connects the handlers)
            schema,  # noqa: F401  (registers the OpenAPI extension)
        )
        from notifications import kinds

        kinds.register(messages.KINDS)
        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)
        erasure.register()
