from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.forms import PHONE_INVALID, PHONE_NEEDED_FOR_SMS
from accounts.models import User
from accounts.zones import NOT_A_ZONE
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/accounts/settings/"
VALID = {
    "full_name": "Bob Member",
    "display_name": "Bobby",
    "phone": "+1 415 555 0123",
    "time_zone": "America/Los_Angeles",
    "email_reminders": "on",
    "email_updates": "on",
}


def test_settings_save_profile_phone_zone_and_preferences(member: User) -> None:
    response = signed_in(member).post(URL, VALID, follow=True)

    assert "Your settings are saved." in response.content.decode()
    member.refresh_from_db()
    assert member.display_name == "Bobby"
    assert member.phone == "+14155550123"
    assert member.time_zone == "America/Los_Angeles"
    assert member.phone_verified_at is None  # texts wait for the code (test_phones.py)
    assert member.wants("reminders", "email")
    assert not member.wants("broadcasts", "email")
    assert not member.wants("updates", "sms")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"phone": "555-0123"}, "phone", PHONE_INVALID),
        ({"phone": "+1 000 000 0000"}, "phone", PHONE_INVALID),
        ({"phone": "call me"}, "phone", PHONE_INVALID),
        ({"phone": "", "sms_reminders": "on"}, "phone", PHONE_NEEDED_FOR_SMS),
        ({"time_zone": "Mars/Olympus"}, "time_zone", NOT_A_ZONE),
        ({"time_zone": "Factory"}, "time_zone", NOT_A_ZONE),
        ({"time_zone": "localtime"}, "time_zone", NOT_A_ZONE),
        ({"time_zone": "Etc/GMT+5"}, "time_zone", NOT_A_ZONE),
        ({"time_zone": "posix/Europe/Paris"}, "time_zone", NOT_A_ZONE),
        ({"time_zone": "US/Pacific"}, "time_zone", NOT_A_ZONE),
        ({"full_name": ""}, "full_name", "required"),
    ],
)
def test_bad_settings_show_an_error_and_change_nothing(
    member: User, change: dict, field: str, message: str
) -> None:
    before = User.objects.filter(pk=member.pk).values().get()

    response = signed_in(member).post(URL, {**VALID, **change})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    after = User.objects.filter(pk=member.pk).values().get()
    after.pop("last_login"), before.pop("last_login")
    assert after == before


def test_an_sms_preference_without_a_phone_never_sends_sms(member: User) -> None:
    member.sms_reminders = True
    member.phone = ""

    assert not member.wants("reminders", "sms")


def test_settings_page_shows_the_member_his_own_data_only(member: User, outsider: User) -> None:
    content = signed_in(member).get(URL).content.decode()

    assert member.email in content
    assert outsider.email not in content
    assert "Verify your email address" in content


def test_pages_show_times_in_the_members_time_zone(member: User) -> None:
    member.time_zone = "Asia/Tokyo"
    member.date_joined = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    member.save()

    content = signed_in(member).get(URL).content.decode()

    assert "Member since 6 January 2026, 08:30 JST" in content
    assert str(timezone.get_current_timezone()) == "UTC"  # not left active after the request


def test_settings_need_sign_in(client: Client) -> None:
    for method in (client.get, client.post):
        response = method(URL)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_every_signed_in_person_edits_only_himself(request, persona: str, outsider: User) -> None:
    user: User = request.getfixturevalue(persona)

    signed_in(user).post(URL, {**VALID, "full_name": "Changed Name"})

    user.refresh_from_db()
    outsider.refresh_from_db()
    assert user.full_name == "Changed Name"
    assert outsider.full_name == "Charlie Outsider"
