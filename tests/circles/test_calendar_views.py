from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from circles.models import CalendarFeed, Circle
from tests.circles.conftest import make_circle, make_meeting
from tests.conftest import signed_in
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def shown_feed_url(page: str) -> str:
    # The link is built from SITE_URL, never from the request's host.
    site = re.escape(settings.SITE_URL)
    return re.search(rf'value="{site}(/calendar/[^"]+\.ics)"', page)[1]


def new_feed_url(client: Client) -> str:
    """A first link, or a replacement (through the page that asks first)."""
    has_one = CalendarFeed.objects.filter(user_id=client.session["_auth_user_id"]).exists()
    url = "/calendar/replace/" if has_one else "/calendar/"
    page = client.post(url, {"action": "create"}, follow=True)
    assert page.status_code == 200
    return shown_feed_url(page.content.decode())


def test_a_member_subscribes_to_his_meetings_with_a_secret_link(
    circle: Circle, circle_member: User
) -> None:
    mine = make_meeting(circle, note="Bring a story")
    other = make_meeting(make_circle(name="Not Mine"))
    url = new_feed_url(signed_in(circle_member))

    response = Client().get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert f"meeting-{mine.pk}@" in body
    assert f"meeting-{other.pk}@" not in body
    assert "221B Secret Street" in body  # his own circle's address, for his calendar
    assert circle_member.email not in body


def test_the_token_is_stored_only_as_a_hash_in_creds(circle_member: User) -> None:
    url = new_feed_url(signed_in(circle_member))
    token = url.removeprefix("/calendar/").removesuffix(".ics")

    assert find_in_database("default", [token]) == []
    assert find_in_database("creds", [token]) == []
    assert CalendarFeed.objects.filter(user_id=circle_member.pk).count() == 1


def test_a_new_link_replaces_the_old_and_switching_off_kills_it(circle_member: User) -> None:
    client = signed_in(circle_member)
    old = new_feed_url(client)
    new = new_feed_url(client)

    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    client.post("/calendar/", {"action": "revoke"})
    assert Client().get(new).status_code == 404
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("token", ["nope", "x" * 43, "../../etc/passwd"])
def test_a_wrong_token_is_a_404(token: str) -> None:
    assert Client().get(f"/calendar/{token}.ics").status_code == 404


def test_calendar_settings_need_sign_in() -> None:
    for method in ("get", "post"):
        response = getattr(Client(), method)("/calendar/")
        assert response["Location"].startswith("/accounts/login/")


def test_the_meeting_ics_download_is_for_members(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle)

    response = signed_in(circle_member).get(f"/meetings/{meeting.pk}/calendar.ics")

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert f"meeting-{meeting.pk}@" in response.content.decode()
