from __future__ import annotations

from django.apps import AppConfig


class CirclesConfig(AppConfig):
    name = "circles"
    verbose_name = "Circles"

    def ready(self) -> None:
        from circles import erasure, messages, receivers, sms_replies  # noqa: F401  (handlers)
        from notifications import inbound, kinds

        kinds.register(messages.KINDS)
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
