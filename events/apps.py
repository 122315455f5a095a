from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from billing import payments as billing_payments
        from circles import dashboard
        from events import (
            calendar,
            erasure,
            facilitator_rights,
            groups,
            messages,
            payments,
            receivers,  # noqa: F401
            signals,
        )
        from events import dashboard as events_dashboard
        from notifications import kinds

        post_migrate.connect(groups.ensure, sender=self, dispatch_uid="events.groups")
        post_migrate.connect(
            facilitator_rights.ensure, sender=self, dispatch_uid="events.facilitator_rights"
        )
        # His confirmed events in his personal calendar feed (circles.calendar).
        calendar.register()
        events_dashboard.connect()
        dashboard.register_section(
            "events", "events/dashboard_section.html", events_dashboard.section
        )
        kinds.register(messages.KINDS)
        erasure.register()
        # Paid and expired Checkout Sessions for registrations, from billing's verified webhook.
        billing_payments.register(
            payments.PURPOSE, paid=payments.checkout_paid, expired=payments.checkout_expired
        )
        signals.registration_cancelled.connect(
            _settle_cancelled, dispatch_uid="events.payments.registration_cancelled"
        )

        from accounts import personal_data
        from events import exports

        for name, section in exports.SECTIONS.items():
            personal_data.exporter(name, section)


def _settle_cancelled(sender: object, registration: object, **kwargs: object) -> None:
    from events import payments

    payments.registration_cancelled(registration=registration)
