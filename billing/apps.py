from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from billing import erasure, messages, receivers, stripe_gateway  # noqa: F401  (handlers)
        from notifications import kinds

        post_migrate.connect(ensure_treasurers, sender=self, dispatch_uid="billing.treasurers")
        kinds.register(messages.KINDS)
        erasure.register()

        from accounts import personal_data
        from billing import exports

        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)

        stripe_gateway.configure()
        stripe_gateway.keep_secret_key_out_of_database()


def ensure_treasurers(*, using: str = "default", **kwargs: object) -> None:
    """The "Treasurers" group exists (after every migrate and every test flush)."""
    from django.contrib.auth.models import Group
    from django.db import router

    if router.allow_migrate_model(using, Group):
        Group.objects.using(using).get_or_create(name="Treasurers")
