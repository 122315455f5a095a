"""Pre-account takeover: nothing set up before the mailbox is proven survives the proof.

The attack from the issue: a stranger signs up with another man's address,
links his own Google account and makes a calendar feed while unverified;
when the real owner resets the password, the link and the feed survived and
the stranger kept reading the circle's private address. Now linking Google
and making a feed need a verified address, and the first proof of the
mailbox (a completed reset or the verification link) ends every session,
API token, Google link and feed made before it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.authentication import token_for
from accounts.models import GoogleIdentity, Session, User
from accounts.signals import email_first_proven
from circles import services as circle_services
from circles.models import CalendarFeed, Circle
from tests.circles import conftest as circles_conftest
from tests.circles.conftest import join, make_meeting
from tests.conftest import PASSWORD, committed, make_user, signed_in
from tests.fakes import oidc

pytestmark = pytest.mark.django_db(databases="__all__")

google_provider = oidc.google_provider
circle = circles_conftest.circle

VICTIM = "victim@example.org"
ATTACKER_PASSWORD = "Attackers-own-pass-31"
OWNER_PASSWORD = "Owners-fresh-pass-62"
FEED_TOKEN = "feed-token-made-before-the-proof-0123456789abc"
ATTACKER_GOOGLE = {
    "sub": "sub-attacker",
    "email": "attacker@gmail.com",
    "email_verified": True,
    "name": "Attacker",
}


# --- Helpers -----------------------------------------------------------------------------------


def google_sign_in(client: Client) -> None:
    """Play "Sign in with Google" through the fake provider."""
    start = client.get("/accounts/google/")
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(at_provider.headers["Location"])
    client.get(f"{callback.path}?{callback.query}")


def signed_in_as(client: Client) -> User | None:
    response = client.get("/accounts/settings/")
    return response.wsgi_request.user if response.status_code == 200 else None


def api_me(access: str) -> int:
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def api_refresh(refresh: str) -> int:
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}).status_code


def reset_password(typed: str, password: str = OWNER_PASSWORD) -> None:
    """The owner asks for a reset (in any spelling) and chooses a password via his email."""
    mail.outbox.clear()
    with committed():
        Client().post("/accounts/password/reset/", {"email": typed})
    [message] = mail.outbox
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", message.body)[1]
    client = Client()
    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert done.status_code == 302, done.content


def verified(user: User) -> User:
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user


def made_before_this_release(user: User, circle: Circle) -> dict[str, Any]:
    """What a stranger could set up on an unverified account before the fix.

    A session, an API token pair, his Google account linked and a calendar
    feed, written as the old code wrote them; and the circle joined later by
    the owner, so the feed would show its private address.
    """
    browser = Client()
    browser.force_login(user)
    pair = token_for(user)
    GoogleIdentity.objects.create(
        user_id=user.pk, sub=ATTACKER_GOOGLE["sub"], email=ATTACKER_GOOGLE["email"]
    )
    CalendarFeed.objects.create(
        user_id=user.pk, token_hash=circle_services.calendar_token_hash(FEED_TOKEN)
    )
    join(user, circle)
    make_meeting(circle)
    return {"browser": browser, "access": str(pair.access_token), "refresh": str(pair)}


def assert_alive(user: User, made: dict[str, Any], google_provider) -> None:
    assert signed_in_as(made["browser"]) == user
    assert api_me(made["access"]) == 200
    feed = Client().get(f"/calendar/{FEED_TOKEN}.ics")
    assert feed.status_code == 200 and "221B Secret Street" in feed.content.decode()
    google_provider.next_identity = dict(ATTACKER_GOOGLE)
    by_google = Client()
    google_sign_in(by_google)
    assert signed_in_as(by_google) == user


def assert_dead(
    user: User, made: dict[str, Any], google_provider, *, keep: str | None = None
) -> None:
    assert signed_in_as(made["browser"]) is None
    assert api_me(made["access"]) == 401
    assert api_refresh(made["refresh"]) == 401
    assert Client().get(f"/calendar/{FEED_TOKEN}.ics").status_code == 404
    assert not CalendarFeed.objects.filter(user_id=user.pk).exists()
    assert not GoogleIdentity.objects.filter(user_id=user.pk).exists()
    assert not Session.objects.filter(user_id=user.pk).exclude(session_key=keep).exists()
    # His Google account now signs in only an account of its own, never the owner's.
    google_provider.next_identity = dict(ATTACKER_GOOGLE)
    by_google = Client()
    google_sign_in(by_google)
    assert signed_in_as(by_google) != user


# --- The whole attack ---------------------------------------------------------------------------


def test_the_attack_through_todays_pages_gets_the_stranger_nothing(google_provider) -> None:
    stranger = Client()
    with committed():
        stranger.post(
            "/accounts/signup/",
            {
                "email": VICTIM,
                "full_name": "Not Victim",
                "password1": ATTACKER_PASSWORD,
                "password2": ATTACKER_PASSWORD,
            },
        )
    account = User.objects.get()

    # He cannot sign in with the password he chose, by page or API...
    page = stranger.post("/accounts/login/", {"username": VICTIM, "password": ATTACKER_PASSWORD})
    assert page.status_code == 200
    token = APIClient().post(
        "/api/v1/auth/token/", {"email": VICTIM, "password": ATTACKER_PASSWORD}, format="json"
    )
    assert token.status_code == 401
    # ...so he can neither link Google nor make a feed.
    assert stranger.post("/accounts/google/link/")["Location"].startswith("/accounts/login/")
    assert stranger.post("/calendar/", {"action": "create"})["Location"].startswith(
        "/accounts/login/"
    )
    # The owner ignores the verification email and resets his password.
    reset_password("Victim@Example.org")

    owner = Client()
    response = owner.post("/accounts/login/", {"username": VICTIM, "password": OWNER_PASSWORD})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.is_verified
    assert signed_in_as(owner) == account
    assert not GoogleIdentity.objects.exists() and not CalendarFeed.objects.exists()
    refused = Client().post("/accounts/login/", {"username": VICTIM, "password": ATTACKER_PASSWORD})
    assert refused.status_code == 200


def test_a_pre_account_from_before_the_fix_loses_everything_at_the_owners_reset(
    google_provider, circle: Circle
) -> None:
    account = make_user(VICTIM, password=ATTACKER_PASSWORD, full_name="Not Victim")
    made = made_before_this_release(account, circle)
    assert_alive(account, made, google_provider)

    reset_password("VICTIM@example.org")

    assert_dead(account, made, google_provider)
    owner = Client()
    assert (
        owner.post("/accounts/login/", {"username": VICTIM, "password": OWNER_PASSWORD}).status_code
        == 302
    )
    assert signed_in_as(owner) == account
    assert User.objects.get(pk=account.pk).is_verified


def test_the_first_verification_ends_everything_made_before_it(
    google_provider, circle: Circle
) -> None:
    account = make_user(VICTIM)
    made = made_before_this_release(account, circle)
    assert_alive(account, made, google_provider)
    link = f"/accounts/verify/{services.verification_token(account)}/"

    proving = Client()
    response = proving.post(link, {"password": PASSWORD})

    assert response.status_code == 302
    assert_dead(account, made, google_provider, keep=proving.session.session_key)
    assert signed_in_as(proving) == account  # the session that proved it goes on
    assert User.objects.get(pk=account.pk).is_verified


def test_a_reset_of_a_verified_account_keeps_its_google_link_and_feed(
    google_provider, circle: Circle
) -> None:
    # Not a first proof: he linked them himself once verified (the rule now).
    account = verified(make_user(VICTIM))
    made = made_before_this_release(account, circle)

    reset_password(VICTIM)

    assert GoogleIdentity.objects.filter(user_id=account.pk).exists()
    assert Client().get(f"/calendar/{FEED_TOKEN}.ics").status_code == 200
    # A password change still ends every session and API token, as before.
    assert signed_in_as(made["browser"]) is None
    assert api_me(made["access"]) == 401


def test_the_first_proof_happens_once(member: User) -> None:
    assert services.email_prove(user=member) is True
    stamp = User.objects.get(pk=member.pk).credentials_changed_at

    assert services.email_prove(user=member) is False
    assert User.objects.get(pk=member.pk).credentials_changed_at == stamp


def test_accounts_tells_circles_through_one_receiver() -> None:
    # Calendar feeds live in circles, a layer above: accounts only sends.
    assert len(email_first_proven.receivers) == 1


# --- Linking Google and making a feed need a verified address, by persona -----------------------


def test_an_unverified_member_cannot_make_a_calendar_feed(member: User) -> None:
    client = signed_in(member)

    response = client.post("/calendar/", {"action": "create"}, follow=True)

    assert circle_services.FEED_NOT_VERIFIED in response.content.decode()
    assert f"{settings.SITE_URL}/calendar/" not in response.content.decode()
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_a_verified_persona_makes_a_calendar_feed(
    request: pytest.FixtureRequest, persona: str
) -> None:
    user = verified(request.getfixturevalue(persona))

    # Made, then shown on the calendar page it redirects to (and again on every visit).
    response = signed_in(user).post("/calendar/", {"action": "create"}, follow=True)

    assert response.status_code == 200
    assert f"{settings.SITE_URL}/calendar/" in response.content.decode()
    assert CalendarFeed.objects.filter(user_id=user.pk).exists()


@pytest.mark.parametrize("persona", ["staff", "superuser"])
def test_an_unverified_staff_persona_cannot_make_a_calendar_feed(
    request: pytest.FixtureRequest, persona: str
) -> None:
    response = signed_in(request.getfixturevalue(persona)).post(
        "/calendar/", {"action": "create"}, follow=True
    )

    assert circle_services.FEED_NOT_VERIFIED in response.content.decode()
    assert not CalendarFeed.objects.exists()


def test_the_feed_service_refuses_an_unverified_member(member: User) -> None:
    with pytest.raises(circle_services.CircleError, match="Verify your email"):
        circle_services.calendar_feed_create(user=member)


def test_the_google_link_service_refuses_an_unverified_member(member: User) -> None:
    with pytest.raises(services.AccountError, match="Verify your email"):
        services.google_link(user=member, sub="sub-x", email="x@gmail.com")

    assert not GoogleIdentity.objects.exists()
