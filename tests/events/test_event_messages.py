"""The messages an event sends: each once, by the channels each man chose (locmem email and SMS).

Registering, cancelling and seat offers go through events.services, whose
signals fire on commit (`committed()` runs them as a commit would).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from events import messages, services
from events.models import Event, Registration
from notifications import sms
from notifications.models import Notification
from tests.circles.conftest import make_verified
from tests.conftest import committed, signed_in
from tests.events.conftest import make_event, make_organiser, register_directly

pytestmark = pytest.mark.django_db(databases="__all__")

_n = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def man(*, texts: bool = False, **extra):
    n = next(_n)
    user = make_verified(
        f"man{n}@example.com", full_name=f"Man {n}", phone=f"+1415555{n:04d}" if texts else ""
    )
    if texts:
        user.sms_updates = user.sms_reminders = True
        user.save(update_fields=["sms_updates", "sms_reminders"])
    return user


def kinds_for(user) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(user=user).values_list("kind", "channel"))


def test_registering_for_a_free_event_sends_his_confirmation_once() -> None:
    event = make_event(title="Open evening", time_zone="Europe/Lisbon")
    him = man(texts=True)

    with committed():
        registration = services.register(event=event, user=him)
    with committed():
        messages.confirmed(registration)  # a second signal: nothing more

    assert kinds_for(him) == [("event_confirmed", "email")]  # email only
    [email] = mail.outbox
    assert email.to == [him.email]
    assert "You're registered: Open evening" in email.subject
    assert "Lisbon time" in email.body  # the event's own time, said as its own
    assert f"/events/{event.slug}/" in email.body
    assert event.address not in email.body  # the private address stays on the page


def test_a_full_event_waitlists_him_without_a_confirmation() -> None:
    event = make_event(capacity=1)
    register_directly(event, man())

    with committed():
        registration = services.register(event=event, user=man())

    assert registration.status == Registration.Status.WAITLISTED
    assert not Notification.objects.filter(kind="event_confirmed").exists()


def test_a_freed_seat_is_offered_to_the_first_man_waiting_by_email_and_text() -> None:
    event = make_event(capacity=1)
    first = man()
    waiting = man(texts=True)
    with committed():
        seat = services.register(event=event, user=first)
        services.register(event=event, user=waiting)
    mail.outbox.clear()

    with committed():
        services.cancel(registration=seat)

    assert kinds_for(waiting) == [("event_offer", "email"), ("event_offer", "sms")]
    offer = Notification.objects.get(user=waiting, channel="email")
    assert "A seat at" in offer.subject
    assert "first on the waitlist" in offer.body
    [text] = sms.outbox
    assert text.to == waiting.phone


def test_a_lapsed_offer_made_again_is_a_new_message_and_the_same_offer_is_not() -> None:
    event = make_event(capacity=1)
    registration = register_directly(
        event,
        man(),
        status=Registration.Status.OFFERED,
        offer_expires_at=timezone.now() + timedelta(hours=72),
    )

    assert messages.offered(registration) == 1
    assert messages.offered(registration) == 0
    registration.offer_expires_at += timedelta(days=1)
    assert messages.offered(registration) == 1


def test_accepting_an_offer_confirms_him_once() -> None:
    event = make_event(capacity=1)
    registration = register_directly(
        event,
        man(),
        status=Registration.Status.OFFERED,
        offer_expires_at=timezone.now() + timedelta(hours=72),
    )

    with committed():
        services.accept_offer(registration=registration)

    assert Notification.objects.filter(kind="event_confirmed").count() == 1


def test_a_change_of_time_is_told_to_every_man_still_registered_once_per_change() -> None:
    event = make_event(title="Retreat")
    confirmed = register_directly(event, man(texts=True))
    waiting = register_directly(event, man(), status=Registration.Status.WAITLISTED)
    gone = register_directly(event, man(), status=Registration.Status.CANCELLED)

    told = messages.changed(event, changes=["starts_at"])
    again = messages.changed(event, changes=["starts_at"])
    event.save()  # a later change: a new updated_at
    later = messages.changed(event, changes=["address"])

    assert (told, again, later) == (3, 0, 3)  # his email and text, the waiting man's email
    assert (
        kinds_for(confirmed.user)
        == [("event_changed", "email")] * 2 + [("event_changed", "sms")] * 2
    )
    assert Notification.objects.filter(user=waiting.user).count() == 2
    assert not Notification.objects.filter(user=gone.user).exists()
    first = Notification.objects.filter(kind="event_changed", channel="email").earliest("pk")
    assert "its time" in first.body


def test_nothing_is_told_of_a_draft_or_a_field_the_men_do_not_see() -> None:
    draft = make_event(status=Event.Status.DRAFT)
    register_directly(draft, man())
    event = make_event()
    register_directly(event, man())

    assert messages.changed(draft, changes=["starts_at"]) == 0
    assert messages.changed(event, changes=["description", "capacity"]) == 0
    assert not Notification.objects.exists()


def test_a_cancellation_is_told_once_to_each_man_registered_with_his_refund() -> None:
    event = make_event(title="Retreat")
    paid = register_directly(event, man(texts=True), payment="paid", amount_cents=12000)
    free = register_directly(event, man())
    register_directly(event, man(), status=Registration.Status.CANCELLED)

    with committed():
        assert messages.cancelled(event) == 3
        assert messages.cancelled(event) == 0

    assert sorted(m.to[0] for m in mail.outbox) == sorted([paid.user.email, free.user.email])
    by_man = {m.to[0]: m for m in mail.outbox}
    assert "refunded" in by_man[paid.user.email].body
    assert "refunded" not in by_man[free.user.email].body
    assert "Cancelled: Retreat" in by_man[free.user.email].subject
    [text] = sms.outbox
    assert "Your payment is refunded" in text.body


def test_a_man_who_turned_updates_off_gets_none() -> None:
    quiet = man()
    quiet.email_updates = False
    quiet.save(update_fields=["email_updates"])
    event = make_event()
    registration = register_directly(event, quiet)

    assert messages.confirmed(registration) == 0
    assert messages.cancelled(event) == 0


# --- Through the admin: what an organiser changes is told --------------------------------


def change_form_data(client, event: Event) -> dict:
    """The event's change form as the browser would post it back, unchanged."""
    response = client.get(f"/admin/events/event/{event.pk}/change/")
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if name in ("starts_at", "ends_at", "registration_deadline"):
            local = timezone.localtime(value, event.zone) if value else None
            data[f"{name}_0"] = f"{local:%Y-%m-%d}" if local else ""
            data[f"{name}_1"] = f"{local:%H:%M:%S}" if local else ""
        elif name == "organisers":
            data[name] = [u.pk if hasattr(u, "pk") else u for u in value or []]
        elif value is None:
            data[name] = ""
        elif hasattr(value, "pk"):
            data[name] = value.pk
        else:
            data[name] = value
    for formset in response.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return {k: v for k, v in data.items() if v is not False}


def test_moving_an_event_in_the_admin_tells_its_men_once_per_change() -> None:
    event = make_event(title="Retreat")
    olly = make_organiser("olly@example.com", event)
    registration = register_directly(event, man())
    client = signed_in(olly)

    data = change_form_data(client, event)
    data["title"] = "Retreat (renamed)"  # not a change the men must hear of
    renamed = client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert renamed.status_code == 302, renamed.context["adminform"].form.errors
    assert not Notification.objects.exists()

    later = timezone.localtime(event.starts_at, event.zone) + timedelta(hours=2)
    data["starts_at_1"] = f"{later:%H:%M:%S}"
    data["starts_at_0"] = f"{later:%Y-%m-%d}"
    ends = timezone.localtime(event.ends_at, event.zone) + timedelta(hours=2)
    data["ends_at_0"], data["ends_at_1"] = f"{ends:%Y-%m-%d}", f"{ends:%H:%M:%S}"
    moved = client.post(f"/admin/events/event/{event.pk}/change/", data, follow=True)
    assert "its time or place changed" in moved.content.decode()
    # The form's times are the event's own (New York), there and back.
    before = event.starts_at
    event.refresh_from_db()
    assert event.starts_at == before.replace(microsecond=0) + timedelta(hours=2)
    assert kinds_for(registration.user) == [("event_changed", "email")]

    # Cancelling is not a field to set: the list's action asks first.
    data["status"] = Event.Status.CANCELLED
    refused = client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert refused.status_code == 200
    assert "Cancel events" in str(refused.context["adminform"].form.errors["status"])
    event.refresh_from_db()
    assert event.status == Event.Status.OPEN


def test_more_seats_in_the_admin_are_offered_to_the_men_waiting_at_once() -> None:
    event = make_event(title="Retreat", capacity=1)
    olly = make_organiser("olly@example.com", event)
    register_directly(event, man())
    first, second, third = (
        services.register(event=event, user=man()) for _ in range(3)
    )  # fmt: skip
    assert {r.status for r in (first, second, third)} == {Registration.Status.WAITLISTED}
    client = signed_in(olly)

    data = change_form_data(client, event)
    data["capacity"] = 3
    with committed():
        saved = client.post(f"/admin/events/event/{event.pk}/change/", data, follow=True)
    assert "2 seats offered to the men waiting" in saved.content.decode()
    statuses = [Registration.objects.get(pk=r.pk).status for r in (first, second, third)]
    assert statuses == ["offered", "offered", "waitlisted"]
    assert ("event_offer", "email") in kinds_for(first.user)


def test_the_cancel_action_asks_first_then_cancels_and_tells_each_man_once() -> None:
    event = make_event(title="Retreat")
    olly = make_organiser("olly@example.com", event)
    other = make_event(title="Someone else's")
    men = [register_directly(event, man()) for _ in range(2)]
    waiting = register_directly(event, man(), status=Registration.Status.WAITLISTED)
    register_directly(other, man())
    client = signed_in(olly)
    chosen = {"action": "cancel_events", "_selected_action": [event.pk, other.pk]}

    asked = client.post("/admin/events/event/", chosen)
    assert asked.status_code == 200
    assert "Cancel these events?" in asked.content.decode()
    assert [e.title for e in asked.context["events"]] == ["Retreat"]  # his only
    event.refresh_from_db()
    assert event.status == Event.Status.OPEN  # nothing yet

    with committed():
        done = client.post("/admin/events/event/", {**chosen, "post": "yes"}, follow=True)
        again = client.post("/admin/events/event/", {**chosen, "post": "yes"}, follow=True)

    assert "Cancelled: Retreat. Its men are told (3 messages queued)" in done.content.decode()
    assert "already cancelled" in again.content.decode()
    event.refresh_from_db()
    other.refresh_from_db()
    assert (event.status, other.status) == (Event.Status.CANCELLED, Event.Status.OPEN)
    told = sorted(m.to[0] for m in mail.outbox)
    assert told == sorted(r.user.email for r in [*men, waiting])
    assert all("Cancelled: Retreat" in m.subject for m in mail.outbox)

    # And it stays cancelled: the form will not open it again.
    data = change_form_data(client, event)
    data["status"] = Event.Status.OPEN
    reopened = client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert reopened.status_code == 200
    assert "stays cancelled" in str(reopened.context["adminform"].form.errors["status"])
