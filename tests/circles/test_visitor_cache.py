"""Whole pages for visitors who are not signed in (circles.caching.for_visitors).

The home page, the directory and a listed circle's page are made once per
generation and served to every plain visitor: no query on a repeat look, the
change on the very next request after a write, each visitor's own CSRF token,
and never to a man who is signed in or has a message waiting.
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
from circles import caching
from circles.models import Circle
from tests.circles.conftest import make_circle, make_meeting
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


def test_an_unlisted_circle_is_not_kept_for_visitors_and_shows_once_listed() -> None:
    circle = make_circle(slug="hidden", is_listed=False)
    visitor = Client()
    assert visitor.get("/circles/hidden/").status_code == 404
    Circle.objects.filter(pk=circle.pk).update(is_listed=True)
    caching.bump(caching.circle_scope(circle.pk))  # as the services do after update()
    assert visitor.get("/circles/hidden/").status_code == 200


def test_htmx_more_and_the_whole_page_are_kept_apart() -> None:
    for i in range(25):
        make_circle(slug=f"c{i}", name=f"Circle number {i}")
    visitor = Client()
    whole = visitor.get("/circles/?page=2").content.decode()
    more = visitor.get("/circles/?page=2", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" in whole and "<html" not in more
    assert "<html" in visitor.get("/circles/?page=2").content.decode()
    assert "<html" not in visitor.get("/circles/?page=2", HTTP_HX_REQUEST="true").content.decode()
