from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from billing import erasure, messages, receivers, stripe_gateway  # noqa: F401  (handlers)
        from notifications import kinds

        kinds.register(messages.KINDS)
        erasure.register()

        from accounts import personal_data
        from billing import exports

        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)

        stripe_gateway.configure()
        stripe_gateway.keep_secret_key_out_of_database()
