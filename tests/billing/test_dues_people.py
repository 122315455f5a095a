"""Scholarships, offline payments, and who sees amounts and reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing import services
from billing.models import DuesTier, OfflinePayment, Scholarship
from billing.selectors import dues_status
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

REASON = "Lost my job in March; back on my feet by summer."


@pytest.fixture
def treasurer(db) -> User:
    user = make_user("tess@example.com", full_name="Tess Treasurer", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Treasurers")[0])
    return user


def ask(member: User, kind: str = "waived") -> Scholarship:
    response = signed_in(member).post(
        "/billing/scholarship/", {"kind": kind, "reason": REASON}, follow=True
    )
    assert "A treasurer will answer you" in response.content.decode()
    return Scholarship.objects.get(user=member)


def test_a_member_asks_and_a_treasurer_waives_his_dues_until_a_date(
    member: User, treasurer: User
) -> None:
    scholarship = ask(member)
    until = timezone.localdate() + timedelta(days=90)
    admin = signed_in(treasurer)

    page = admin.post(
        "/admin/billing/scholarship/",
        {
            "action": "approve",
            "_selected_action": [scholarship.pk],
            "apply": "1",
            "until": until.isoformat(),
        },
        follow=True,
    )

    assert "Decided" in page.content.decode()
    assert dues_status(member).word == "waived"
    assert dues_status(member).until == until
    assert "Your dues are waived until" in signed_in(member).get("/billing/").content.decode()


def test_a_second_request_while_one_waits_is_refused(member: User) -> None:
    ask(member)

    response = signed_in(member).post(
        "/billing/scholarship/", {"kind": "reduced", "reason": "again"}, follow=True
    )

    assert services.ALREADY_ASKED in response.content.decode()
    assert Scholarship.objects.count() == 1


@pytest.mark.parametrize(
    "data", [{"kind": "waived", "reason": ""}, {"kind": "free", "reason": "x"}, {}]
)
def test_a_bad_request_is_a_form_error_and_writes_nothing(member: User, data: dict) -> None:
    response = signed_in(member).post("/billing/scholarship/", data)

    assert response.status_code == 400
    assert not Scholarship.objects.exists()


def test_approving_needs_a_future_end_date(member: User, treasurer: User) -> None:
    scholarship = ask(member)

    with pytest.raises(services.BillingError, match="end date"):
        services.scholarship_decide(
            scholarship=scholarship, by=treasurer, approve=True, until=timezone.localdate()
        )

    scholarship.refresh_from_db()
    assert scholarship.status == "requested"


def test_a_treasurer_declines_and_nothing_is_waived(member: User, treasurer: User) -> None:
    scholarship = ask(member)

    services.scholarship_decide(scholarship=scholarship, by=treasurer, approve=False)

    assert Scholarship.objects.get(pk=scholarship.pk).status == "declined"
    assert dues_status(member).word == "none"


def test_an_offline_payment_covers_a_period(member: User, treasurer: User) -> None:
    today = timezone.localdate()
    response = signed_in(treasurer).post(
        "/admin/billing/offlinepayment/add/",
        {
            "user": member.pk,
            "amount_cents": 4500,
            "currency": "usd",
            "method": "cash",
            "covers_from": (today - timedelta(days=5)).isoformat(),
            "covers_until": (today + timedelta(days=25)).isoformat(),
        },
    )

    assert response.status_code == 302
    payment = OfflinePayment.objects.get()
    assert payment.recorded_by == treasurer
    assert dues_status(member).word == "paid offline"


def test_an_offline_payment_period_must_go_forward(member: User, treasurer: User) -> None:
    today = timezone.localdate()
    response = signed_in(treasurer).post(
        "/admin/billing/offlinepayment/add/",
        {
            "user": member.pk,
            "amount_cents": 4500,
            "currency": "usd",
            "method": "cash",
            "covers_from": today.isoformat(),
            "covers_until": (today - timedelta(days=1)).isoformat(),
        },
    )

    assert response.status_code == 200
    assert "must end on or after" in response.content.decode()
    assert not OfflinePayment.objects.exists()


# --- Who sees what ------------------------------------------------------------------------

BILLING_ADMIN = [
    "/admin/billing/scholarship/",
    "/admin/billing/offlinepayment/",
    "/admin/billing/duestier/",
]


@pytest.mark.parametrize("url", BILLING_ADMIN)
def test_only_treasurers_and_superusers_reach_amounts_and_reasons(
    url: str, member: User, staff: User, treasurer: User, superuser: User
) -> None:
    ask(member)
    OfflinePayment.objects.create(
        user=member,
        amount_cents=4500,
        method="cash",
        covers_from=timezone.localdate(),
        covers_until=timezone.localdate(),
    )
    DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id="price_x")

    assert Client().get(url).status_code == 302
    assert signed_in(member).get(url).status_code == 302
    assert signed_in(staff).get(url).status_code == 403  # a facilitator is staff
    assert signed_in(treasurer).get(url).status_code == 200
    assert signed_in(superuser).get(url).status_code == 200


def test_the_reason_is_shown_to_treasurers_only(member: User, staff: User, treasurer: User) -> None:
    scholarship = ask(member)
    url = f"/admin/billing/scholarship/{scholarship.pk}/change/"

    assert REASON in signed_in(treasurer).get(url).content.decode()
    assert signed_in(staff).get(url).status_code == 403
    assert REASON not in signed_in(member).get("/billing/").content.decode()


def test_a_member_sees_his_own_dues_only(member: User, outsider: User) -> None:
    OfflinePayment.objects.create(
        user=outsider,
        amount_cents=4500,
        method="cash",
        covers_from=timezone.localdate(),
        covers_until=timezone.localdate() + timedelta(days=30),
    )

    page = signed_in(member).get("/billing/").content.decode()

    assert "No dues are set up yet" in page
    assert "paid until" not in page


@pytest.mark.parametrize("url", ["/billing/", "/billing/success/"])
def test_billing_pages_need_sign_in(url: str) -> None:
    assert Client().get(url)["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "url", ["/billing/portal/", "/billing/scholarship/", "/billing/checkout/1/"]
)
def test_billing_posts_need_sign_in(url: str) -> None:
    assert Client().post(url)["Location"].startswith("/accounts/login/")


def test_without_stripe_keys_billing_shows_amounts_and_how_to_pay_instead(
    member: User, settings
) -> None:
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    tier = DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id="price_x")
    client = signed_in(member)

    page = client.get("/billing/").content.decode()
    checkout = client.post(f"/billing/checkout/{tier.pk}/", follow=True)
    portal = client.post("/billing/portal/", follow=True)

    assert "$15</strong> a month" in page
    assert "Paying online is not offered here" in page
    assert f'action="/billing/checkout/{tier.pk}/"' not in page
    assert "Stripe" not in page
    for answer in (checkout, portal):
        assert answer.status_code == 200
        assert "Paying online is not offered here" in answer.content.decode()


def test_checkout_for_an_unknown_or_retired_tier_is_404(member: User) -> None:
    retired = DuesTier.objects.create(
        name="Old", amount_cents=1500, stripe_price_id="price_old", is_active=False
    )

    assert signed_in(member).post("/billing/checkout/999/").status_code == 404
    assert signed_in(member).post(f"/billing/checkout/{retired.pk}/").status_code == 404


def test_a_stripe_outage_at_checkout_is_a_message_not_a_500(
    member: User, stripe_fake, tier: DuesTier
) -> None:
    stripe_fake.fail_next(10, status=500, should_retry=False)

    response = signed_in(member).post(f"/billing/checkout/{tier.pk}/", follow=True)

    assert response.status_code == 200
    assert "Payments are unavailable right now" in response.content.decode()


def test_a_treasurer_adds_a_tier_for_a_real_recurring_stripe_price(
    treasurer: User, stripe_fake
) -> None:
    from djstripe.models import Price

    price = stripe_fake.add_price(2500, nickname="Sustaining")
    admin = signed_in(treasurer)
    form = {"name": "Sustaining", "amount_cents": 2500, "currency": "usd", "order": 1}

    refused = admin.post("/admin/billing/duestier/add/", {**form, "stripe_price_id": "price_nope"})
    added = admin.post("/admin/billing/duestier/add/", {**form, "stripe_price_id": price["id"]})

    assert refused.status_code == 200
    assert "Stripe does not accept this price" in refused.content.decode()
    assert added.status_code == 302
    assert DuesTier.objects.get().stripe_price_id == price["id"]
    assert Price.objects.filter(id=price["id"]).exists()  # synced through dj-stripe


def test_a_tier_without_a_price_id_makes_its_monthly_price_in_stripe(
    treasurer: User, stripe_fake
) -> None:
    from djstripe.models import Price

    admin = signed_in(treasurer)
    form = {"name": "Supporter", "amount_cents": 4000, "currency": "usd", "order": 2}
    key = "ab" * 16

    first = admin.post("/admin/billing/duestier/add/", {**form, "key": key})
    # The same form sent again: Stripe answers with the same price, no second tier.
    again = admin.post("/admin/billing/duestier/add/", {**form, "key": key})

    assert first.status_code == 302
    tier = DuesTier.objects.get()
    made = stripe_fake.get(tier.stripe_price_id)
    assert (made["unit_amount"], made["currency"], made["recurring"]["interval"]) == (
        4000,
        "usd",
        "month",
    )
    assert stripe_fake.get(made["product"])["name"] == "Dues: Supporter"
    assert len(stripe_fake.events_of("price.created")) == 1
    assert Price.objects.filter(id=tier.stripe_price_id).exists()
    assert again.status_code == 200
    assert DuesTier.objects.count() == 1


def test_a_tier_form_corrected_and_sent_again_makes_the_corrected_price(
    treasurer: User, stripe_fake
) -> None:
    admin = signed_in(treasurer)
    form = {
        "name": "Supporter",
        "amount_cents": 4000,
        "currency": "usd",
        "order": 2,
        "key": "cd" * 16,
    }
    admin.post("/admin/billing/duestier/add/", form)

    again = admin.post("/admin/billing/duestier/add/", {**form, "amount_cents": 4500})

    assert again.status_code == 302
    amounts = [stripe_fake.get(t.stripe_price_id)["unit_amount"] for t in DuesTier.objects.all()]
    assert sorted(amounts) == [4000, 4500]


def test_without_stripe_a_tier_needs_a_price_id(treasurer: User, settings) -> None:
    settings.STRIPE_SECRET_KEY = ""
    form = {"name": "Supporter", "amount_cents": 4000, "currency": "usd", "order": 2}

    response = signed_in(treasurer).post("/admin/billing/duestier/add/", form)

    assert response.status_code == 200
    assert "Stripe is not set up on this site" in response.content.decode()
    assert not DuesTier.objects.exists()


SEARCH = (
    "/admin/billing/offlinepayment/member-search/"
    "?app_label=billing&model_name=offlinepayment&field_name=user&term=Bob"
)


def test_treasurers_find_a_member_for_a_payment_and_nobody_else_does(
    treasurer: User, member: User, staff: User
) -> None:
    found = signed_in(treasurer).get(SEARCH)
    other_field = signed_in(treasurer).get(SEARCH.replace("field_name=user", "field_name=note"))

    assert found.status_code == 200
    assert [r["id"] for r in found.json()["results"]] == [str(member.pk)]
    assert other_field.status_code == 403
    assert signed_in(staff).get(SEARCH).status_code == 403


# --- One request waiting, held by the database ------------------------------------------


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_twenty_parallel_requests_leave_one_waiting() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    dan = make_user("dan@example.com")
    start = threading.Barrier(20)

    def request(n: int) -> str:
        try:
            start.wait(timeout=10)
            services.scholarship_request(user=dan, kind="waived", reason=f"try {n}")
            return "asked"
        except services.BillingError as error:
            return error.message
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(request, range(20)))

    assert sorted(set(answers)) == [services.ALREADY_ASKED, "asked"]
    assert answers.count("asked") == 1
    assert Scholarship.objects.filter(user=dan, status="requested").count() == 1


def test_after_a_decision_he_may_ask_again(member: User, treasurer: User) -> None:
    first = services.scholarship_request(user=member, kind="waived", reason="a")
    services.scholarship_decide(scholarship=first, by=treasurer, approve=False)

    second = services.scholarship_request(user=member, kind="reduced", reason="b")

    assert second.status == "requested"
    assert Scholarship.objects.filter(user=member).count() == 2


def test_the_migration_closes_extra_waiting_requests_made_before_the_rule(member: User) -> None:
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("billing.migrations.0003_one_open_scholarship_request")
    rule = Scholarship._meta.constraints[0]
    with connection.schema_editor() as editor:
        editor.remove_constraint(Scholarship, rule)
    first, second, third = (
        Scholarship.objects.create(
            user=member,
            kind="waived",
            reason=f"reason {n}",
            requested_at=timezone.now() - timedelta(hours=3 - n),
        )
        for n in range(3)
    )
    other = Scholarship.objects.create(user=make_user("eve@example.com"), kind="waived", reason="x")
    with connection.cursor() as cursor:  # as if committed before the migration ran
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    with connection.schema_editor() as editor:
        migration.close_duplicates(apps, editor)
        editor.add_constraint(Scholarship, rule)

    statuses = dict(Scholarship.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: "requested",
        second.pk: "declined",
        third.pk: "declined",
        other.pk: "requested",
    }
    assert Scholarship.objects.get(pk=third.pk).reason == "reason 2"
