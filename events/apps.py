from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from circles import dashboard
        from events import calendar, groups
        from events import dashboard as events_dashboard

        post_migrate.connect(groups.ensure, sender=self, dispatch_uid="events.groups")
        # His confirmed events in his personal calendar feed (circles.calendar).
        calendar.register()
        dashboard.register_section(
            "events", "events/dashboard_section.html", events_dashboard.section
        )
