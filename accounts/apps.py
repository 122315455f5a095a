from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import (
            erasure,
            messages,
            receivers,  # noqa: F401  (connects the handlers)
            schema,  # noqa: F401  (registers the OpenAPI extension)
        )
        from notifications import kinds

        kinds.register(messages.KINDS)
        erasure.register()
