"""events' section of "Download my data" (registered from EventsConfig.ready()).

Every registration of his, cancelled ones too, with what he answered the
organisers (dietary needs, an emergency contact: his data, so his export
holds it). The events' private address is not his data and is not here.
Two queries, whatever the number of registrations.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from accounts.exports import iso
from accounts.models import User
from events.models import Answer, Registration

Json = dict[str, Any]


def registrations(user: User) -> list[Json]:
    rows = (
        Registration.objects.filter(user=user)
        .select_related("event", "tier")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("question")))
        .order_by("created_at", "pk")
    )
    return [
        {
            "event": registration.event.title,
            "event_starts_at": iso(registration.event.starts_at),
            "event_time_zone": registration.event.time_zone,
            "status": registration.status,
            "registered_at": iso(registration.created_at),
            "cancelled_at": iso(registration.cancelled_at),
            "seat_offer_until": iso(registration.offer_expires_at),
            "ticket": registration.tier.name if registration.tier else None,
            "amount_cents": registration.amount_cents,
            "payment": registration.payment,
            "free_place_reason": registration.free_place_reason,
            "refunded_at": iso(registration.refunded_at),
            "arrived_at": iso(registration.arrived_at),
            "answers": [
                {
                    "question": answer.question.label,
                    "kind": answer.question.kind,
                    "answer": answer.value,
                }
                for answer in registration.answers.all()
            ],
        }
        for registration in rows
    ]


SECTIONS = {"event_registrations": registrations}
