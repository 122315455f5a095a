from __future__ import annotations

from django.apps import AppConfig


class CirclesConfig(AppConfig):
    name = "circles"
    verbose_name = "Circles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from circles import caching, erasure, groups, messages, receivers, sms_replies  # noqa: F401
        from notifications import inbound, kinds

        post_migrate.connect(groups.ensure, sender=self, dispatch_uid="circles.groups")
        kinds.register(messages.KINDS)
        caching.connect()
        erasure.register()
        inbound.register(
            words=sms_replies.YES_WORDS | sms_replies.NO_WORDS,
            handler=sms_replies.answer,
            help=sms_replies.HELP,
        )

        from accounts import personal_data
        from circles import exports

        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)
