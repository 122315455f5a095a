"""Who reaches the paying pages: only the man whose held registration it is."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from events import payments, services
from events.models import Event, Registration, TicketTier
from tests.circles.conftest import make_circle, make_facilitator, make_verified
from tests.conftest import signed_in
from tests.events.conftest import make_event, make_organiser

pytestmark = pytest.mark.django_db(databases="__all__")

PAGES = [("get", "pay"), ("post", "checkout"), ("post", "free-place"), ("get", "paid")]


@pytest.fixture
def retreat(db: None) -> Event:
    event = make_event(title="Weekend retreat", capacity=5)
    TicketTier.objects.create(event=event, name="Standard", amount_cents=15000)
    return event


def _call(client: Client, method: str, event: Event, page: str):
    url = f"/events/{event.slug}/{page}/"
    return client.get(url) if method == "get" else client.post(url, {"reason": "x"})


@pytest.mark.parametrize(("method", "page"), PAGES)
def test_anonymous_is_sent_to_sign_in(retreat: Event, method: str, page: str) -> None:
    response = _call(Client(), method, retreat, page)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def _persona(name: str, event: Event) -> User:
    if name == "member":
        return make_verified("mo@example.com")
    if name == "organiser":
        return make_organiser("olly@example.com", event)
    other = make_circle(name="Other circle", slug="other-circle")
    return make_facilitator("fred@example.com", other)


@pytest.mark.parametrize("persona", ["member", "organiser", "facilitator_of_another_circle"])
@pytest.mark.parametrize(("method", "page"), PAGES)
def test_a_man_without_a_registration_gets_404(
    retreat: Event, persona: str, method: str, page: str
) -> None:
    held = services.register(
        event=retreat, user=make_verified("dan@example.com"), tier=retreat.tiers.get()
    )

    response = _call(signed_in(_persona(persona, retreat)), method, retreat, page)

    assert response.status_code == 404
    held.refresh_from_db()
    assert (held.status, held.payment) == ("held", "pending")  # nobody else's click counts


def test_the_registered_man_sees_his_pay_page_and_the_page_after(retreat: Event) -> None:
    man = make_verified("dan@example.com")
    services.register(event=retreat, user=man, tier=retreat.tiers.get())
    client = signed_in(man)

    pay = client.get(f"/events/{retreat.slug}/pay/")
    paid = client.get(f"/events/{retreat.slug}/paid/")

    assert pay.status_code == 200
    page = pay.content.decode()
    assert "Pay $150" in page or "Ask for a free place" in page
    assert 'action="/events/' in page
    assert paid.status_code == 200


def test_a_confirmed_man_is_sent_from_the_pay_page_to_the_event(retreat: Event) -> None:
    man = make_verified("dan@example.com")
    Registration.objects.create(
        event=retreat, user=man, status=Registration.Status.CONFIRMED, payment="paid"
    )

    response = signed_in(man).get(f"/events/{retreat.slug}/pay/")

    assert response.status_code == 302
    assert response["Location"] == f"/events/{retreat.slug}/"


@pytest.mark.parametrize("page", ["checkout", "free-place"])
def test_a_get_changes_nothing(retreat: Event, page: str) -> None:
    man = make_verified("dan@example.com")
    services.register(event=retreat, user=man, tier=retreat.tiers.get())

    assert signed_in(man).get(f"/events/{retreat.slug}/{page}/").status_code == 405


def test_the_event_page_offers_a_held_man_to_pay_or_ask_for_a_free_place(retreat: Event) -> None:
    man = make_verified("dan@example.com")
    registration = services.register(event=retreat, user=man, tier=retreat.tiers.get())
    client = signed_in(man)

    page = client.get(f"/events/{retreat.slug}/").content.decode()
    assert f'action="/events/{retreat.slug}/checkout/"' in page
    assert "Pay $150" in page
    assert f'href="/events/{retreat.slug}/pay/"' in page

    payments.free_place_request(registration=registration, reason="Between jobs.")
    page = client.get(f"/events/{retreat.slug}/").content.decode()
    assert "You asked for a free place" in page
    assert "/checkout/" not in page


def test_his_dashboard_says_his_free_place_is_with_the_organisers(retreat: Event) -> None:
    man = make_verified("dan@example.com")
    registration = services.register(event=retreat, user=man, tier=retreat.tiers.get())
    client = signed_in(man)
    assert "Your seat is kept while you pay." in client.get("/dashboard/").content.decode()

    payments.free_place_request(registration=registration, reason="Between jobs.")

    page = client.get("/dashboard/").content.decode()
    assert "Your free place is with the organisers" in page


@pytest.mark.parametrize(("method", "page"), PAGES)
def test_a_man_whose_hold_lapsed_is_sent_back_to_the_event_saying_so(
    retreat: Event, method: str, page: str
) -> None:
    man = make_verified("dan@example.com")
    registration = services.register(event=retreat, user=man, tier=retreat.tiers.get())
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.CANCELLED)
    client = signed_in(man)

    response = _call(client, method, retreat, page)

    assert response.status_code == 302
    assert response["Location"] == f"/events/{retreat.slug}/"
    shown = client.get(response["Location"]).content.decode()
    assert "Your seat is no longer held" in shown


def test_a_man_whose_late_payment_was_refunded_is_told(retreat: Event) -> None:
    man = make_verified("dan@example.com")
    registration = services.register(event=retreat, user=man, tier=retreat.tiers.get())
    Registration.objects.filter(pk=registration.pk).update(
        status=Registration.Status.CANCELLED, payment=Registration.Payment.REFUNDED
    )
    client = signed_in(man)

    response = client.get(f"/events/{retreat.slug}/paid/", follow=True)

    assert "it is refunded in full" in response.content.decode()
