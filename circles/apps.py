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
