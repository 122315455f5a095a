from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from circles import dashboard
        from events import dashboard as events_dashboard
        from events import erasure, facilitator_rights, groups, messages, receivers  # noqa: F401
        from notifications import kinds

        post_migrate.connect(groups.ensure, sender=self, dispatch_uid="events.groups")
        post_migrate.connect(
            facilitator_rights.ensure, sender=self, dispatch_uid="events.facilitator_rights"
        )
        dashboard.register_section(
            "events", "events/dashboard_section.html", events_dashboard.section
        )
        kinds.register(messages.KINDS)
        erasure.register()

        from accounts import personal_data
        from events import exports

        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)
