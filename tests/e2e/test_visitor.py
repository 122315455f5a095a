"""A visitor who has not signed up: the landing page, the directory, signing in."""

from __future__ import annotations

import pytest

from tests.circles.conftest import make_circle
from tests.e2e.conftest import Journey

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_visitor_finds_the_directory_and_the_sign_in_page(journey: Journey) -> None:
    make_circle(name="Mission Tuesday Circle", slug="mission-tuesday")

    page = journey.goto("/", "landing page")
    # The landing page's call to action: on a phone the menu holds the nav link.
    page.get_by_role("button", name="Find a circle").click()
    journey.check("directory")
    page.get_by_role("link", name="Mission Tuesday Circle").click()
    journey.check("circle page")
