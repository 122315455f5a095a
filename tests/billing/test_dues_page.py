"""The dues page in plain words: the amounts, "no dues yet", what a reduction reduces from."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.models import DuesTier, Scholarship
from billing.selectors import NO_DUES, NOT_PAYING
from billing.templatetags.money import money
from billing.views import NOT_CONFIGURED
from circles.models import Circle
from tests.circles.conftest import join, make_circle, make_facilitator
from tests.conftest import capture_all_queries, force_signed_in, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def stripe_on(settings) -> None:
    # Pages only: no test here reaches Stripe.
    settings.STRIPE_SECRET_KEY = "sk_test_page_only"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_page_only"


@pytest.fixture
def stripe_off(settings) -> None:
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""


@pytest.fixture
def scale(db: None) -> list[DuesTier]:
    return [
        DuesTier.objects.create(
            name="Standard", amount_cents=1500, stripe_price_id="price_std", order=1
        ),
        DuesTier.objects.create(
            name="Low income", amount_cents=500, stripe_price_id="price_low", order=0
        ),
        DuesTier.objects.create(
            name="Sponsor", amount_cents=4050, stripe_price_id="price_sponsor", order=2
        ),
    ]


def dues_page(user: User, client: Client | None = None) -> str:
    response = (client or signed_in(user)).get("/billing/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (1500, "usd", "$15"),
        (1550, "usd", "$15.50"),
        (150000, "usd", "$1,500"),
        (2000, "EUR", "€20"),
        (2000, "chf", "CHF 20"),
        (None, "usd", "$0"),
    ],
)
def test_amounts_read_as_people_write_them(cents: int | None, currency: str, shown: str) -> None:
    assert money(cents, currency) == shown


def test_a_member_sees_each_tier_as_an_amount_a_month(
    member: User, scale: list[DuesTier], stripe_on: None
) -> None:
    page = dues_page(member)

    assert NOT_PAYING in page
    assert "$5</strong> a month" in page
    assert "$15</strong> a month" in page
    assert "$40.50</strong> a month" in page
    assert "Pay $15 a month" in page
    assert "None" not in page


def test_the_reduced_dues_request_says_what_it_reduces_from(
    member: User, scale: list[DuesTier], stripe_on: None
) -> None:
    page = dues_page(member)

    # The least the scale asks, whatever order the treasurers put the tiers in.
    assert "The dues start at <strong>$5 a month</strong> (Low income)" in page
    assert 'action="/billing/scholarship/"' in page


def test_with_no_tiers_the_page_says_plainly_there_are_no_dues(
    member: User, stripe_on: None
) -> None:
    page = dues_page(member)

    assert NO_DUES in page
    assert "None" not in page
    assert "Choose what you can afford" not in page
    # Nothing to reduce: no request for less than nothing.
    assert 'action="/billing/scholarship/"' not in page


def dues_section(page: str) -> str:
    return page.split('id="dues-heading"')[1].split("</section>")[0]


def test_the_dashboard_says_the_same_in_plain_words(member: User) -> None:
    client = signed_in(member)

    assert NO_DUES in dues_section(client.get("/dashboard/").content.decode())
    DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id="price_std")
    section = dues_section(client.get("/dashboard/").content.decode())
    assert NOT_PAYING in section
    assert "None" not in section


def test_without_stripe_the_amounts_show_and_no_pay_button(
    member: User, scale: list[DuesTier], stripe_off: None
) -> None:
    page = dues_page(member)

    assert "$15</strong> a month" in page
    assert "Pay $15 a month" not in page
    assert "Paying online is not offered here" in page
    assert "Stripe" not in page
    answer = signed_in(member).post(f"/billing/checkout/{scale[0].pk}/", follow=True)
    assert answer.status_code == 200
    assert NOT_CONFIGURED in answer.content.decode()


@pytest.mark.parametrize("who", ["member", "facilitator", "outsider"])
def test_each_man_sees_his_own_dues_and_the_same_scale(
    who: str, member: User, outsider: User, scale: list[DuesTier], stripe_on: None
) -> None:
    circle = make_circle()
    join(member, circle)
    people = {
        "member": member,
        "facilitator": make_facilitator("fred@example.com", circle),
        "outsider": outsider,
    }
    # Another man's waiver is his alone.
    for name, user in people.items():
        if name != who:
            Scholarship.objects.create(
                user=user,
                kind="waived",
                reason="x",
                status="approved",
                until=timezone.localdate() + timedelta(days=30),
            )

    page = dues_page(people[who])

    assert NOT_PAYING in page
    assert "waived" not in page.split("Your dues</h2>")[1].split("</article>")[0]
    assert "$15</strong> a month" in page


def test_anonymous_is_sent_to_sign_in() -> None:
    response = Client().get("/billing/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_opening_the_dues_page_writes_nothing(member: User, scale: list[DuesTier]) -> None:
    client = signed_in(member)

    with capture_all_queries() as queries:
        client.get("/billing/")

    writes = [
        q["sql"]
        for captured in queries.values()
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "session" not in q["sql"]
    ]
    assert writes == []


def test_the_demo_has_a_sliding_scale_its_member_can_read(settings, stripe_off: None) -> None:
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False
    daniel = User.objects.get(email="daniel.kim@example.com")
    assert Circle.objects.filter(memberships__user=daniel).exists()

    client = force_signed_in(daniel)  # the demo's own password, not the suite's
    page = dues_page(daniel, client)

    assert DuesTier.objects.filter(is_active=True).count() == 3
    for tier in DuesTier.objects.all():
        assert f"{money(tier.amount_cents, tier.currency)}</strong> a month" in page
    assert NOT_PAYING in page
    assert "Paying online is not offered here" in page
    # Asked to pay anyway (an old form, a hand-made POST): a plain answer, never a 500.
    tier = DuesTier.objects.first()
    answer = client.post(f"/billing/checkout/{tier.pk}/", follow=True)
    assert answer.status_code == 200
    assert NOT_CONFIGURED in answer.content.decode()
