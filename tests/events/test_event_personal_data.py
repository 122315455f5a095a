"""His registrations and answers: in "Download my data", and deleted with his account."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from accounts import services as account_services
from events.models import Answer, Registration
from tests.circles.conftest import make_verified
from tests.conftest import committed, signed_in
from tests.events.conftest import add_question, add_tier, make_event, register_directly
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

DIET = "No nuts: I carry an EpiPen"
CONTACT = "Sam Wise, +1 415 555 0199"


@pytest.fixture
def ben():
    return make_verified("ben@example.com", full_name="Ben Member")


def registered_with_answers(user, **event_fields) -> Registration:
    event = make_event(**event_fields)
    diet = add_question(event, "Dietary needs")
    contact = add_question(event, "Emergency contact", kind="emergency_contact")
    tier = add_tier(event, "Supported", 5000)
    registration = register_directly(event, user, tier=tier, amount_cents=5000, payment="paid")
    Answer.objects.create(registration=registration, question=diet, value=DIET)
    Answer.objects.create(registration=registration, question=contact, value=CONTACT)
    return registration


def test_his_export_holds_every_registration_with_his_answers(ben) -> None:
    registration = registered_with_answers(ben, title="Weekend retreat")
    register_directly(make_event(title="Open evening"), ben, status="cancelled")
    other = make_verified("oscar@example.com")
    register_directly(registration.event, other)

    response = signed_in(ben).get("/accounts/settings/export/")
    assert response.status_code == 200
    data = json.loads(response.content)

    rows = data["event_registrations"]
    assert [row["event"] for row in rows] == ["Weekend retreat", "Open evening"]
    retreat = rows[0]
    assert retreat["status"] == "confirmed"
    assert retreat["ticket"] == "Supported"
    assert retreat["amount_cents"] == 5000
    assert retreat["payment"] == "paid"
    assert retreat["answers"] == [
        {"question": "Dietary needs", "kind": "dietary", "answer": DIET},
        {"question": "Emergency contact", "kind": "emergency_contact", "answer": CONTACT},
    ]
    assert rows[1]["status"] == "cancelled" and rows[1]["answers"] == []
    assert rows[0]["free_place_reason"] == ""
    # The event's private address is not his data.
    assert registration.event.address not in str(rows)


def test_his_reason_for_a_free_place_is_in_his_export(ben) -> None:
    registration = registered_with_answers(ben, title="Weekend retreat")
    Registration.objects.filter(pk=registration.pk).update(
        payment=Registration.Payment.FREE_PLACE_REQUESTED, free_place_reason="Between jobs."
    )
    data = json.loads(signed_in(ben).get("/accounts/settings/export/").content)
    assert data["event_registrations"][0]["free_place_reason"] == "Between jobs."


def test_the_export_section_costs_the_same_queries_for_one_or_many_registrations(
    ben, django_assert_max_num_queries
) -> None:
    from events.exports import registrations

    registered_with_answers(ben)
    with django_assert_max_num_queries(2):
        registrations(ben)
    for _ in range(5):
        registered_with_answers(ben)
    with django_assert_max_num_queries(2):
        assert len(registrations(ben)) == 6


def test_deleting_his_account_deletes_his_registrations_and_answers(ben) -> None:
    registration = registered_with_answers(ben)
    other = make_verified("oscar@example.com")
    kept = register_directly(registration.event, other)

    account_services.user_delete(user=ben)

    assert not Registration.objects.filter(pk=registration.pk).exists()
    assert not Answer.objects.filter(value__in=[DIET, CONTACT]).exists()
    assert find_in_database("default", [DIET, CONTACT, "ben@example.com"]) == []
    assert Registration.objects.filter(pk=kept.pk).exists()


def test_the_seat_he_held_goes_to_the_first_man_on_the_waitlist(ben) -> None:
    event = make_event(capacity=1)
    register_directly(event, ben)
    waiting = register_directly(event, make_verified("wes@example.com"), status="waitlisted")

    with committed():
        account_services.user_delete(user=ben)

    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.OFFERED
    assert waiting.offer_expires_at is not None
    assert any("A seat at" in m.subject for m in mail.outbox if m.to == ["wes@example.com"])


def test_a_man_registered_for_an_event_is_held_from_the_stale_sign_up_purge(ben) -> None:
    from accounts import personal_data

    register_directly(make_event(), ben, status="waitlisted")
    nobody = make_verified("nobody@example.com")

    assert personal_data.holding([ben.pk, nobody.pk]) == {ben.pk}
