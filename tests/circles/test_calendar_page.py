"""The calendar page: his link again on return, copy/webcal/Google, replacing asks first."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from circles import services
from circles.models import CalendarFeed, Circle
from tests.circles.conftest import make_circle, make_facilitator, make_meeting, make_verified
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

PAGE = "/calendar/"
REPLACE = "/calendar/replace/"


def shown_link(page: str) -> str | None:
    site = re.escape(settings.SITE_URL)
    found = re.search(rf'value="({site}/calendar/[^"]+\.ics)"', page)
    return found[1] if found else None


def feed_path(url: str) -> str:
    return url.removeprefix(settings.SITE_URL)


def test_his_link_is_shown_again_when_he_comes_back(circle: Circle, circle_member: User) -> None:
    make_meeting(circle)
    client = signed_in(circle_member)
    made = client.post(PAGE, {"action": "create"}, follow=True).content.decode()
    link = shown_link(made)
    assert link

    again = signed_in(circle_member).get(PAGE).content.decode()  # another day, another session

    assert shown_link(again) == link
    assert "You have a calendar link." in again
    assert "no-store" in signed_in(circle_member).get(PAGE)["Cache-Control"]
    assert Client().get(feed_path(link)).status_code == 200


def test_the_page_offers_copy_webcal_and_google_calendar(circle_member: User) -> None:
    client = signed_in(circle_member)
    page = client.post(PAGE, {"action": "create"}, follow=True).content.decode()
    link = shown_link(page)
    webcal = "webcal://" + link.split("://", 1)[1]

    assert f'href="{webcal}"' in page
    assert f'href="https://calendar.google.com/calendar/r?cid={quote(webcal, safe="")}"' in page
    # The copy button needs the script (a static file: no inline script under the CSP);
    # without it the button stays hidden and the readonly field is selected by hand.
    assert re.search(r'<button type="button"[^>]*data-copy="feed-url" hidden>', page)
    assert 'src="/static/js/copy.js"' in page
    assert re.search(r"<script>|<script [^>]*>[^<]+</script>", page) is None
    assert re.search(r'<input[^>]*id="feed-url"[^>]*readonly', page)


def test_without_a_link_the_page_says_so_and_offers_to_make_one(circle_member: User) -> None:
    page = signed_in(circle_member).get(PAGE).content.decode()

    assert "You have no calendar link yet." in page
    assert "Make my calendar link" in page
    assert "Replace" not in page


def test_replacing_asks_first_and_a_get_changes_nothing(circle_member: User) -> None:
    client = signed_in(circle_member)
    link = shown_link(client.post(PAGE, {"action": "create"}, follow=True).content.decode())
    before = CalendarFeed.objects.get().token_hash

    page = client.get(REPLACE)

    assert page.status_code == 200
    assert "Replace your calendar link?" in page.content.decode()
    assert CalendarFeed.objects.get().token_hash == before
    assert Client().get(feed_path(link)).status_code == 200


def test_replacing_kills_the_old_link_and_shows_the_new(circle_member: User) -> None:
    client = signed_in(circle_member)
    old = shown_link(client.post(PAGE, {"action": "create"}, follow=True).content.decode())

    answer = client.post(REPLACE, follow=True).content.decode()
    new = shown_link(answer)

    assert new and new != old
    assert "the old one no longer works" in answer
    assert Client().get(feed_path(old)).status_code == 404
    assert Client().get(feed_path(new)).status_code == 200
    assert shown_link(client.get(PAGE).content.decode()) == new


def test_the_make_button_never_replaces_a_link_he_has(circle_member: User) -> None:
    client = signed_in(circle_member)
    first = shown_link(client.post(PAGE, {"action": "create"}, follow=True).content.decode())

    again = shown_link(client.post(PAGE, {"action": "create"}, follow=True).content.decode())

    assert again == first
    assert Client().get(feed_path(first)).status_code == 200


def test_replace_without_a_link_makes_none(circle_member: User) -> None:
    response = signed_in(circle_member).post(REPLACE)

    assert response["Location"] == PAGE
    assert not CalendarFeed.objects.exists()


def test_a_link_made_before_it_could_be_shown_is_still_reported(circle_member: User) -> None:
    CalendarFeed.objects.create(
        user_id=circle_member.pk, token_hash=services.calendar_token_hash("old-token")
    )

    page = signed_in(circle_member).get(PAGE).content.decode()

    assert "You have a calendar link, made before this page could show it again" in page
    assert shown_link(page) is None
    assert 'href="/calendar/replace/"' in page


def test_after_a_key_rotation_the_link_is_shown_while_the_old_key_is_a_fallback(
    circle_member: User, settings
) -> None:
    client = signed_in(circle_member)
    link = shown_link(client.post(PAGE, {"action": "create"}, follow=True).content.decode())
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-" + "secret-key-for-the-rotation-test-" * 2
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert services.calendar_feed_token(user=circle_member) == feed_path(link).removeprefix(
        "/calendar/"
    ).removesuffix(".ics")
    settings.SECRET_KEY_FALLBACKS = []
    assert services.calendar_feed_token(user=circle_member) is None
    # The link itself still works: it is found by its hash, not remade.
    assert Client().get(feed_path(link)).status_code == 200


# --- Who may see what --------------------------------------------------------------------


@pytest.mark.parametrize("url", [PAGE, REPLACE])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_sign_in(url: str, method: str) -> None:
    response = getattr(Client(), method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not CalendarFeed.objects.exists()


def test_each_man_sees_only_his_own_link(circle: Circle, circle_member: User) -> None:
    facilitator = make_facilitator("fred@example.com", circle)
    outsider = make_verified("olly@example.com")
    make_facilitator("gary@example.com", make_circle())
    links = {}
    for user in (circle_member, facilitator, outsider):
        page = signed_in(user).post(PAGE, {"action": "create"}, follow=True).content.decode()
        links[user.pk] = shown_link(page)

    assert len(set(links.values())) == 3
    for user in (circle_member, facilitator, outsider):
        page = signed_in(user).get(PAGE).content.decode()
        assert shown_link(page) == links[user.pk]
        for other, link in links.items():
            if other != user.pk:
                assert link not in page


def test_an_unverified_man_cannot_make_a_link(db: None) -> None:
    newcomer = make_user("new@example.com")

    page = signed_in(newcomer).post(PAGE, {"action": "create"}, follow=True).content.decode()

    assert services.FEED_NOT_VERIFIED in page
    assert not CalendarFeed.objects.exists()
