from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import (
            messages,
            personal_data,
            receivers,  # noqa: F401  (connects the handlers)
            schema,  # noqa: F401  (registers the OpenAPI extension)
            services,
        )
        from notifications import kinds

        kinds.register(messages.KINDS)
        personal_data.exporter("email_change", services.email_change_export)
