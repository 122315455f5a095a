"""Time zones a man can pick: real places only, grouped and sorted; the browser's own
zone on sign-up, UTC (said plainly) when it is missing or not a real zone."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts import zones
from accounts.models import User
from tests.accounts.test_sign_up import FORM
from tests.conftest import committed, force_signed_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_only_region_city_zones_are_offered_sorted() -> None:
    names = zones.real_zones()

    assert list(names) == sorted(names)
    assert "America/Los_Angeles" in names and "Europe/Paris" in names
    for odd in ("Factory", "localtime", "UTC", "Etc/GMT+5", "posix/Europe/Paris", "US/Pacific"):
        assert odd not in names
    assert not [n for n in names if n.startswith(("Etc/", "posix/", "right/"))]
    assert zones.city_name("America/Argentina/Buenos_Aires") == "Buenos Aires"


def test_the_settings_list_is_grouped_by_region(member: User) -> None:
    html = force_signed_in(member).get("/accounts/settings/").content.decode()
    select = html.split('name="time_zone"')[1].split("</select>")[0]

    groups = re.findall(r'<optgroup label="([^"]+)">', select)
    assert groups[:3] == ["Universal", "Africa", "America"]
    assert groups == ["Universal", *sorted(groups[1:])]
    assert '<option value="America/Los_Angeles"' in select
    assert ">Los Angeles</option>" in select
    assert "Factory" not in select and "localtime" not in select and "Etc/" not in select


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("", "UTC"),
        ("Mars/Olympus", "UTC"),
        ("Factory", "UTC"),
        ("<script>", "UTC"),
    ],
)
def test_sign_up_takes_the_browsers_zone_or_falls_back_to_utc(sent: str, kept: str) -> None:
    with committed():
        response = Client().post("/accounts/signup/", {**FORM, "time_zone": sent})

    assert response.status_code == 302
    assert User.objects.get(email__iexact=FORM["email"]).time_zone == kept


def test_the_sign_up_page_carries_the_field_and_the_script_that_fills_it() -> None:
    html = Client().get("/accounts/signup/").content.decode()

    assert re.search(r'<input type="hidden" name="time_zone"[^>]*data-browser-zone', html)
    assert "/static/js/time-zone.js" in html
    assert "<script>" not in html  # the CSP allows no inline script


def test_settings_say_plainly_when_times_are_in_utc(member: User) -> None:
    client = force_signed_in(member)
    assert member.time_zone == "UTC"
    assert (
        "Times are shown in UTC — set your time zone"
        in client.get("/accounts/settings/").content.decode()
    )

    member.time_zone = "Europe/Paris"
    member.save(update_fields=["time_zone"])
    assert "Times are shown in UTC" not in client.get("/accounts/settings/").content.decode()
