"""Whole pages from the cache (circles.caching.cached_page).

The home page, the directory and a listed circle's page are made once per
generation and served to every plain visitor: no query on a repeat look, the
change on the very next request after a write, each visitor's own CSRF token,
and never to a man who is signed in or has a message waiting. A signed-in
man's circle and meeting pages are made for him alone, and forgotten by
every write that changes them, his leaving first of all.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from circles import caching, services
from circles.models import Circle, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.circles.test_page_cache import total_queries
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.delete_pattern("*")


@pytest.mark.parametrize("url", ["/", "/circles/", "/circles/?q=brooklyn", "/circles/listed/"])
def test_a_visitors_repeat_look_takes_no_query(url: str) -> None:
    make_circle(slug="listed", name="Brooklyn Tuesday")
    visitor = Client()
    first = visitor.get(url)
    assert first.status_code == 200
    assert total_queries(visitor, url) == 0
    # Another visitor gets the same page from the cache, with his own token.
    other = Client()
    assert total_queries(other, url) == 0


def test_each_visitor_gets_his_own_working_csrf_token_never_the_placeholder() -> None:
    make_circle(slug="listed")
    tokens = []
    for _ in range(2):
        visitor = Client(enforce_csrf_checks=True)
        page = visitor.get("/circles/").content.decode()
        assert caching.csrf_placeholder() not in page
        token = TOKEN.search(page).group(1)
        tokens.append(token)
        # The token works with this visitor's own cookie: the form is not refused for CSRF.
        answer = visitor.post("/accounts/login/", {"csrfmiddlewaretoken": token})
        assert answer.status_code != 403
    assert tokens[0] != tokens[1]


def test_a_write_shows_on_the_visitors_next_request() -> None:
    circle = make_circle(slug="listed", name="Brooklyn Tuesday")
    visitor = Client()
    assert "Brooklyn Tuesday" in visitor.get("/circles/").content.decode()
    assert "Brooklyn Tuesday" in visitor.get("/circles/listed/").content.decode()

    circle.name = "Queens Thursday"
    circle.save()
    assert "Queens Thursday" in visitor.get("/circles/").content.decode()
    assert "Queens Thursday" in visitor.get("/circles/listed/").content.decode()

    make_meeting(circle, in_days=3)  # a meeting shows on the circle's page only
    page = visitor.get("/circles/listed/").content.decode()
    assert "next meeting" in page.lower()


def test_a_signed_in_man_never_gets_the_visitors_page(member: User) -> None:
    make_circle(slug="listed")
    Client().get("/circles/")  # the visitors' copy is made
    sign_out = f'action="{reverse("accounts:logout")}"'
    mine = signed_in(member).get("/circles/").content.decode()
    assert sign_out in mine
    # and the visitors' copy never shows what his page showed.
    theirs = Client().get("/circles/").content.decode()
    assert sign_out not in theirs


def test_a_visitor_with_a_message_waiting_sees_it() -> None:
    Client().get("/")  # the visitors' copy is made
    storage = CookieStorage(RequestFactory().get("/"))
    encoded = storage._encode([Message(constants.INFO, "You have been signed out.")])
    visitor = Client()
    visitor.cookies["messages"] = encoded
    assert "You have been signed out." in visitor.get("/").content.decode()
    assert "You have been signed out." not in Client().get("/").content.decode()


def test_an_unlisted_circle_is_not_kept_cached_page_and_shows_once_listed() -> None:
    circle = make_circle(slug="hidden", is_listed=False)
    visitor = Client()
    assert visitor.get("/circles/hidden/").status_code == 404
    Circle.objects.filter(pk=circle.pk).update(is_listed=True)
    caching.bump(caching.circle_scope(circle.pk))  # as the services do after update()
    assert visitor.get("/circles/hidden/").status_code == 200


@pytest.mark.parametrize(
    "url", ["/?utm=1", "/circles/?nonsense=1", "/circles/?q=a&q=b", "/circles/listed/?x=1"]
)
def test_a_made_up_query_string_gets_its_page_made_and_not_kept(url: str) -> None:
    make_circle(slug="listed")
    visitor = Client()
    for _ in range(2):
        assert visitor.get(url).status_code == 200
    assert not cache.keys("page:page|*")


def test_htmx_more_and_the_whole_page_are_kept_apart() -> None:
    for i in range(25):
        make_circle(slug=f"c{i}", name=f"Circle number {i}")
    visitor = Client()
    whole = visitor.get("/circles/?page=2").content.decode()
    more = visitor.get("/circles/?page=2", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" in whole and "<html" not in more
    assert "<html" in visitor.get("/circles/?page=2").content.decode()
    assert "<html" not in visitor.get("/circles/?page=2", HTTP_HX_REQUEST="true").content.decode()


# --- A signed-in man's own pages -------------------------------------------------------


def _member(circle: Circle, email: str, **sharing: bool) -> User:
    man = make_verified(email)
    join(man, circle)
    Membership.objects.filter(user=man, circle=circle).update(**sharing)
    caching.bump(caching.circle_scope(circle.pk), caching.user_scope(man.pk))
    return man


def test_each_man_gets_his_own_circle_page_never_another_mans() -> None:
    circle = make_circle(slug="listed")
    sharer = _member(circle, "sharer@example.com", share_email=True)
    quiet = _member(circle, "quiet@example.com", share_email=False)
    pages = {}
    for man in (sharer, quiet, sharer, quiet):  # the second round from the cache
        client = signed_in(man)
        client.get("/circles/listed/")
        pages[man.email] = client.get("/circles/listed/").content.decode()
    share_box = re.compile(r'name="share_email"[^>]*checked')
    assert share_box.search(pages["sharer@example.com"])
    assert not share_box.search(pages["quiet@example.com"])


def test_a_man_who_leaves_loses_the_meeting_page_at_once(circle: Circle) -> None:
    man = _member(circle, "leaver@example.com")
    meeting = make_meeting(circle, in_days=2)
    client = signed_in(man)
    url = f"/meetings/{meeting.pk}/"
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert total_queries(client, url) == 2  # his page, from the cache

    services.membership_leave(membership=Membership.objects.get(user=man, circle=circle))
    assert client.get(url).status_code == 404
    assert circle.private_address not in client.get(f"/circles/{circle.slug}/").content.decode()


def test_his_answer_and_its_message_show_on_the_next_meeting_page(
    circle: Circle, circle_member: User
) -> None:
    man = circle_member
    meeting = make_meeting(circle, in_days=2)
    client = signed_in(man)
    url = f"/meetings/{meeting.pk}/"
    for _ in range(3):
        client.get(url)
    answered = client.post(f"/meetings/{meeting.pk}/rsvp/", {"response": "yes"}, follow=True)
    page = answered.content.decode()
    assert "Thanks, your answer is saved." in page  # the message, though the page was cached
    assert "You're coming." in page
    assert "Thanks, your answer is saved." not in client.get(url).content.decode()
    assert "You're coming." in client.get(url).content.decode()


def test_another_mans_meeting_is_a_404_whatever_he_has_cached(circle: Circle) -> None:
    man = _member(circle, "inside@example.com")
    outsider = make_verified("outside@example.com")
    meeting = make_meeting(circle, in_days=2)
    for _ in range(3):
        assert signed_in(man).get(f"/meetings/{meeting.pk}/").status_code == 200
    assert signed_in(outsider).get(f"/meetings/{meeting.pk}/").status_code == 404
    assert Client().get(f"/meetings/{meeting.pk}/").status_code == 302
