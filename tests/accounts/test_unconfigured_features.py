"""A feature the site has not set up is not mentioned: Google sign-in, texts, paying online."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from billing.models import DuesTier
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

CONSOLE = "notifications.sms.ConsoleBackend"
LOCMEM = "notifications.sms.LocmemBackend"


@pytest.fixture
def google_off(settings) -> None:
    settings.GOOGLE_CLIENT_ID = settings.GOOGLE_CLIENT_SECRET = ""


@pytest.fixture
def google_on(settings) -> None:
    settings.GOOGLE_CLIENT_ID = "client-id"
    settings.GOOGLE_CLIENT_SECRET = "client-secret"


def test_without_google_neither_sign_in_nor_settings_mention_it(
    google_off: None, member: User
) -> None:
    login = Client().get("/accounts/login/").content.decode()
    settings_page = signed_in(member).get("/accounts/settings/").content.decode()

    assert "Google" not in login
    assert "Google" not in settings_page


def test_with_google_both_offer_it(google_on: None, member: User) -> None:
    member.email_verified_at = member.date_joined
    member.save(update_fields=["email_verified_at"])

    login = Client().get("/accounts/login/").content.decode()
    settings_page = signed_in(member).get("/accounts/settings/").content.decode()

    assert "Sign in with Google" in login
    assert "Link my Google account" in settings_page
    assert "not available" not in login + settings_page


def _settings_page(member: User) -> str:
    return signed_in(member).get("/accounts/settings/").content.decode()


def test_without_texts_in_production_the_settings_offer_none(member: User, settings) -> None:
    settings.SMS_BACKEND, settings.DEBUG = CONSOLE, False
    User.objects.filter(pk=member.pk).update(phone="+14155550123")

    page = _settings_page(member)

    assert "Text (SMS)" not in page
    assert 'name="sms_reminders"' not in page
    assert "Send me a code" not in page
    assert "STOP" not in page


def test_with_texts_the_settings_offer_them(member: User, settings) -> None:
    settings.SMS_BACKEND = LOCMEM
    User.objects.filter(pk=member.pk).update(phone="+14155550123")

    page = _settings_page(member)

    assert "Text (SMS)" in page
    assert 'name="sms_reminders"' in page


def test_the_console_stands_in_for_texts_in_development(member: User, settings) -> None:
    """The embedded default prints texts (README): the demo shows them."""
    settings.SMS_BACKEND, settings.DEBUG = CONSOLE, True

    assert 'name="sms_reminders"' in _settings_page(member)


def test_without_texts_a_save_keeps_his_text_choices(member: User, settings) -> None:
    User.objects.filter(pk=member.pk).update(
        phone="+14155550123", phone_verified_at=member.date_joined, sms_reminders=True
    )
    settings.SMS_BACKEND, settings.DEBUG = CONSOLE, False

    response = signed_in(member).post(
        "/accounts/settings/",
        {
            "full_name": "Bob Member",
            "phone": "(415) 555-0123",
            "time_zone": "UTC",
            "email_reminders": "on",
        },
        follow=True,
    )

    assert "Your settings are saved." in response.content.decode()
    member.refresh_from_db()
    assert member.sms_reminders  # not turned off by boxes the page never showed


def test_without_texts_no_code_is_sent(member: User, settings) -> None:
    User.objects.filter(pk=member.pk).update(
        phone="+14155550123", email_verified_at=member.date_joined
    )
    settings.SMS_BACKEND, settings.DEBUG = CONSOLE, False
    client = signed_in(member)

    response = client.post("/accounts/settings/phone/send/", follow=True)

    assert "This site does not send text messages." in response.content.decode()
    assert client.get("/accounts/settings/phone/verify/")["Location"] == "/accounts/settings/"


@pytest.mark.parametrize("configured", [True, False])
def test_the_dues_page_offers_online_payment_only_with_stripe(
    member: User, settings, configured: bool
) -> None:
    key = "sk_test_page_only" if configured else ""
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = key
    tier = DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id="price_s")

    page = signed_in(member).get("/billing/").content.decode()

    assert "$15</strong> a month" in page
    assert (f'action="/billing/checkout/{tier.pk}/"' in page) is configured
    assert ("Paying online is not offered here" in page) is not configured
    assert "not configured" not in page


def test_the_delete_page_names_no_vendor(member: User, settings) -> None:
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""

    page = signed_in(member).get("/accounts/settings/delete/").content.decode()

    assert "Stripe" not in page
    assert "stops any dues you pay online" in page


@pytest.mark.parametrize(("backend", "mentioned"), [(CONSOLE, False), (LOCMEM, True)])
def test_the_landing_page_mentions_texts_only_when_sent(
    settings, db: None, backend: str, mentioned: bool
) -> None:
    settings.SMS_BACKEND, settings.DEBUG = backend, False

    page = Client().get("/").content.decode()

    assert ("reply YES or NO" in page) is mentioned
    assert "Reminders by email" in page
