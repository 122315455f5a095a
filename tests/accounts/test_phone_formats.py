"""Mobile numbers as men type them: national formats for their region, stored E.164."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import phones
from accounts.forms import PHONE_INVALID
from accounts.models import User
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/accounts/settings/"


def fullwidth(text: str) -> str:
    """ "(415)" typed on a full-width keyboard: each ASCII character's full-width twin."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def form(**change: str) -> dict[str, str]:
    return {
        "full_name": "Bob Member",
        "phone": "",
        "time_zone": "America/Los_Angeles",
        "email_reminders": "on",
        **change,
    }


@pytest.mark.parametrize(
    ("typed", "zone", "stored"),
    [
        ("(415) 555-0123", "America/Los_Angeles", "+14155550123"),
        ("415.555.0123", "America/Los_Angeles", "+14155550123"),
        ("1 415 555 0123", "America/Los_Angeles", "+14155550123"),
        ("+1 415 555 0123", "Europe/London", "+14155550123"),
        # His zone names his country: a London man types a London mobile number.
        ("07911 123456", "Europe/London", "+447911123456"),
        # A zone that names no one country (UTC): the site's default region.
        ("(415) 555-0123", "UTC", "+14155550123"),
        # Full-width digits are the same digits: stored in plain ASCII.
        (fullwidth("(415)555-0123"), "America/Los_Angeles", "+14155550123"),
    ],
)
def test_a_number_in_his_national_format_is_saved_in_e164(
    member: User, typed: str, zone: str, stored: str
) -> None:
    response = signed_in(member).post(URL, form(phone=typed, time_zone=zone), follow=True)

    assert "Your settings are saved." in response.content.decode()
    member.refresh_from_db()
    assert member.phone == stored
    assert member.phone.isascii()


@pytest.mark.parametrize(
    "typed",
    [
        "415-555-CALL",  # letters (phonenumbers alone would read them as digits)
        "(415) 555-O123",  # a letter O for a zero
        "555-0123",  # too short
        "+1 415 555 012",  # +1 and nine digits
        "+1 000 000 0000",
        "(415) 555-0123 ext. 12",  # an extension is no mobile number
        "٤١٥",  # digits of another script, but far too few
    ],
)
def test_a_bad_number_is_refused_in_plain_words_and_changes_nothing(
    member: User, typed: str
) -> None:
    before = User.objects.filter(pk=member.pk).values("phone", "time_zone").get()

    response = signed_in(member).post(URL, form(phone=typed))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["phone"])
    assert errors == PHONE_INVALID
    assert "E.164" not in response.content.decode()
    assert User.objects.filter(pk=member.pk).values("phone", "time_zone").get() == before


def test_the_settings_page_shows_his_number_as_he_would_write_it(member: User) -> None:
    User.objects.filter(pk=member.pk).update(phone="+14155550123", time_zone="America/Chicago")

    page = signed_in(member).get(URL).content.decode()

    assert 'value="(415) 555-0123"' in page
    assert "+14155550123" not in page
    assert "E.164" not in page


def test_a_number_from_abroad_is_shown_with_its_country_code(member: User) -> None:
    User.objects.filter(pk=member.pk).update(phone="+447911123456", time_zone="America/Chicago")

    page = signed_in(member).get(URL).content.decode()

    assert 'value="+44 7911 123456"' in page


def test_saving_the_number_as_shown_changes_nothing(member: User) -> None:
    """The page shows "(415) 555-0123"; sent back as it is, it is the same number."""
    User.objects.filter(pk=member.pk).update(phone="+14155550123")
    member.refresh_from_db()
    client = signed_in(member)

    client.post(URL, form(phone="(415) 555-0123"))

    member.refresh_from_db()
    assert member.phone == "+14155550123"


def test_the_default_region_comes_from_settings(member: User, settings) -> None:
    settings.PHONE_DEFAULT_REGION = "GB"

    signed_in(member).post(URL, form(phone="07911 123456", time_zone="UTC"))

    member.refresh_from_db()
    assert member.phone == "+447911123456"


def test_regions_follow_the_zone_then_the_site(settings) -> None:
    settings.PHONE_DEFAULT_REGION = "US"

    assert phones.regions_for("Europe/London") == ["GB", "US"]
    assert phones.regions_for("Australia/Sydney") == ["AU", "US"]
    assert phones.regions_for("UTC") == ["US"]
    assert phones.regions_for("Mars/Olympus") == ["US"]


def test_settings_need_sign_in() -> None:
    response = Client().post(URL, form(phone="(415) 555-0123"))

    assert response["Location"].startswith("/accounts/login/")


def test_another_man_cannot_change_his_number(member: User) -> None:
    other = make_user("dave@example.com", phone="+14155550199")

    signed_in(member).post(URL, {**form(phone="(415) 555-0123"), "user": other.pk})

    other.refresh_from_db()
    assert other.phone == "+14155550199"
