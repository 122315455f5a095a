"""Google sign-in end to end through the HTML views, against a local fake provider.

The browser dance is played for real: our view redirects to the fake's authorize
URL, `requests` opens it like a browser would, and the callback it redirects to is
opened with the same Django test client. Nothing of ours is mocked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from accounts import google, services
from accounts.models import Credential, GoogleIdentity, Session, User
from accounts.views import GOOGLE_CANCELLED, GOOGLE_OFF, GOOGLE_SESSION_KEY, GOOGLE_STATE_MISMATCH
from mensc.routers import CREDS_DB
from tests.conftest import PASSWORD, signed_in
from tests.fakes import oidc
from tests.fakes.oidc import FakeOIDCProvider

pytestmark = pytest.mark.django_db(databases="__all__")

# Registers the fixture here (an assignment: ruff reports an imported fixture as F811).
google_provider = oidc.google_provider

SIGN_IN = "/accounts/google/"
LINK = "/accounts/google/link/"
CALLBACK = "/accounts/google/callback/"
UNLINK = "/accounts/google/unlink/"
SETTINGS = "/accounts/settings/"
LOGIN = "/accounts/login/"
# Where a sign-in without a `next` lands: his dashboard.
HOME = "/dashboard/"

LINKED = "Google is linked: you can now sign in with it."
UNLINKED = "Google is unlinked: sign in with your password from now on."

PERSONAS = ["member", "staff", "superuser"]


# --- Helpers --------------------------------------------------------------------------


def _identity(sub: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"sub": sub, "email": email, "email_verified": True, "name": "Dan Example", **extra}


def _start(client: Client, fake: FakeOIDCProvider, *, link: bool = False, **query: str) -> str:
    """Press "Sign in with Google" (or "Link"); return the provider's authorize URL."""
    response = client.post(LINK) if link else client.get(SIGN_IN, query)
    assert response.status_code == 302, response.content
    url = response["Location"]
    assert url.startswith(f"{fake.base_url}/authorize?")
    return url


def _at_provider(authorize_url: str) -> str:
    """Play the browser at the provider; return the callback's path and query."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        django_settings.SITE_URL + CALLBACK
    )
    return f"{location.path}?{location.query}"


def _dance(
    client: Client, fake: FakeOIDCProvider, *, link: bool = False, **query: str
) -> HttpResponse:
    """The whole round trip; returns our callback's response."""
    return client.get(_at_provider(_start(client, fake, link=link, **query)))


def _state_of(authorize_url: str) -> str:
    return dict(parse_qsl(urlsplit(authorize_url).query))["state"]


def _shown(client: Client, response: HttpResponse) -> str:
    """Follow a redirect like a browser; the text of the page the member ends on."""
    assert response.status_code == 302, response.content
    page = client.get(response["Location"], follow=True)
    assert page.status_code == 200
    return page.content.decode()


def _user_of(client: Client) -> User | None:
    """Who this client is signed in as, judged by a page that needs sign-in."""
    response = client.get(SETTINGS)
    if response.status_code != 200:
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        return None
    return response.wsgi_request.user


def _rows() -> dict[str, int]:
    """Row counts in both databases: people in `default`, secrets in `creds`."""
    return {
        "users": User.objects.using("default").count(),
        "credentials": Credential.objects.using(CREDS_DB).count(),
        "identities": GoogleIdentity.objects.using(CREDS_DB).count(),
    }


def _client_for(request: pytest.FixtureRequest, persona: str) -> Client:
    if persona == "anonymous":
        return Client()
    return signed_in(request.getfixturevalue(persona))


def _verified(user: User) -> User:
    """Linking Google needs a verified address."""
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user


# --- A new Google account ---------------------------------------------------------------


def test_new_google_email_creates_verified_account_and_signs_in(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "Dan@Example.com", name=" Dan Example ")
    client = Client()

    response = _dance(client, google_provider)

    assert response.status_code == 302
    assert response["Location"] == HOME
    user = User.objects.using("default").get()
    assert user.email == "dan@example.com"
    assert user.full_name == "Dan Example"
    assert user.email_verified_at is not None
    assert not user.has_usable_password()
    credential = Credential.objects.using(CREDS_DB).get(user_id=user.pk)
    assert credential.password_hash.startswith("!")  # Django's unusable marker
    identity = GoogleIdentity.objects.using(CREDS_DB).get()
    assert (identity.user_id, identity.sub, identity.email) == (
        user.pk,
        "sub-dan",
        "dan@example.com",
    )
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == user.pk
    assert Session.objects.using(CREDS_DB).filter(user_id=user.pk).count() == 1
    assert GOOGLE_SESSION_KEY not in client.session


@pytest.mark.parametrize("target", ["/accounts/settings/", "/?tab=circles"])
def test_safe_next_is_honoured_after_google_sign_in(google_provider, target: str) -> None:
    client = Client()

    response = _dance(client, google_provider, next=target)

    assert response.status_code == 302
    assert response["Location"] == target
    assert _user_of(client) is not None


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/"]
)
def test_offsite_next_is_ignored_after_google_sign_in(google_provider, target: str) -> None:
    client = Client()

    response = _dance(client, google_provider, next=target)

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert _user_of(client) is not None


def test_same_sub_signs_into_the_same_account_again(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "dan@example.com")
    first = Client()
    _dance(first, google_provider)
    rows = _rows()
    user = User.objects.using("default").get()

    second = Client()
    response = _dance(second, google_provider)

    assert response["Location"] == HOME
    assert _rows() == rows == {"users": 1, "credentials": 1, "identities": 1}
    signed_in_as = _user_of(second)
    assert signed_in_as is not None and signed_in_as.pk == user.pk


def test_same_sub_with_a_new_google_email_signs_into_the_same_account(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "dan@example.com")
    _dance(Client(), google_provider)
    user = User.objects.using("default").get()

    google_provider.next_identity = _identity("sub-dan", "dan.new@example.com")
    client = Client()
    _dance(client, google_provider)

    assert _rows() == {"users": 1, "credentials": 1, "identities": 1}
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == user.pk


def test_inactive_account_cannot_sign_in_with_google(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "dan@example.com")
    _dance(Client(), google_provider)
    User.objects.using("default").update(is_active=False)

    client = Client()
    response = _dance(client, google_provider)

    assert response["Location"] == LOGIN
    assert escape("This account is not active.") in _shown(client, response)
    assert _user_of(client) is None


# --- An email that already has an account ------------------------------------------------


@pytest.mark.parametrize("google_email", ["bob@example.com", "BOB@Example.COM"])
def test_email_of_a_password_account_is_not_taken_over(
    google_provider, member: User, google_email: str
) -> None:
    google_provider.next_identity = _identity("sub-bob", google_email)
    rows = _rows()
    client = Client()

    response = _dance(client, google_provider)

    assert response["Location"] == LOGIN
    assert escape(services.GOOGLE_EMAIL_TAKEN) in _shown(client, response)
    assert _rows() == rows
    assert not GoogleIdentity.objects.using(CREDS_DB).exists()
    assert _user_of(client) is None
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_owner_links_google_from_settings_then_signs_in_with_it(
    google_provider, member: User
) -> None:
    google_provider.next_identity = _identity("sub-bob", "bob@example.com")
    refused = Client()
    _dance(refused, google_provider)
    assert not GoogleIdentity.objects.using(CREDS_DB).exists()

    owner = signed_in(_verified(member))
    response = _dance(owner, google_provider, link=True)

    assert response["Location"] == SETTINGS
    page = _shown(owner, response)
    assert escape(LINKED) in page
    assert "Google account linked: bob@example.com" in page
    identity = GoogleIdentity.objects.using(CREDS_DB).get()
    assert (identity.user_id, identity.sub, identity.email) == (
        member.pk,
        "sub-bob",
        "bob@example.com",
    )
    assert User.objects.using("default").count() == 1

    client = Client()
    response = _dance(client, google_provider)

    assert response["Location"] == HOME
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == member.pk
    assert User.objects.using("default").count() == 1


@pytest.mark.parametrize("member_has_own_link", [False, True])
def test_linking_a_google_account_linked_to_someone_else_is_refused(
    google_provider, member: User, outsider: User, member_has_own_link: bool
) -> None:
    GoogleIdentity.objects.create(user_id=outsider.pk, sub="sub-charlie", email="c@gmail.com")
    if member_has_own_link:
        GoogleIdentity.objects.create(user_id=member.pk, sub="sub-bob", email="b@gmail.com")
    before = sorted(GoogleIdentity.objects.using(CREDS_DB).values_list("user_id", "sub", "email"))
    rows = _rows()
    google_provider.next_identity = _identity("sub-charlie", "c@gmail.com")
    client = signed_in(_verified(member))

    response = _dance(client, google_provider, link=True)

    assert response["Location"] == SETTINGS
    assert escape(services.GOOGLE_ALREADY_LINKED) in _shown(client, response)
    after = sorted(GoogleIdentity.objects.using(CREDS_DB).values_list("user_id", "sub", "email"))
    assert after == before
    assert _rows() == rows
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == member.pk


# --- Unlinking ---------------------------------------------------------------------------


def test_unlink_removes_identity_and_signs_out_other_sessions(member: User) -> None:
    GoogleIdentity.objects.create(user_id=member.pk, sub="sub-bob", email="bob@example.com")
    stamp = member.credentials_changed_at
    this = signed_in(member)
    other = signed_in(member)

    response = this.post(UNLINK)

    assert response["Location"] == SETTINGS
    page = _shown(this, response)
    assert escape(UNLINKED) in page
    assert "Google account linked" not in page
    assert not GoogleIdentity.objects.using(CREDS_DB).exists()
    signed_in_as = _user_of(this)
    assert signed_in_as is not None and signed_in_as.pk == member.pk
    assert _user_of(other) is None
    member.refresh_from_db()
    assert member.credentials_changed_at > stamp
    assert member.check_password(PASSWORD)


def test_google_only_member_cannot_unlink(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "dan@example.com")
    client = Client()
    _dance(client, google_provider)
    user = User.objects.using("default").get()
    stamp = user.credentials_changed_at

    response = client.post(UNLINK)

    assert response["Location"] == SETTINGS
    assert escape(services.GOOGLE_UNLINK_NEEDS_PASSWORD) in _shown(client, response)
    identity = GoogleIdentity.objects.using(CREDS_DB).get()
    assert (identity.user_id, identity.sub) == (user.pk, "sub-dan")
    user.refresh_from_db()
    assert user.credentials_changed_at == stamp
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == user.pk


def test_unlinking_with_nothing_linked_changes_nothing(member: User) -> None:
    client, other = signed_in(member), signed_in(member)
    stamp = member.credentials_changed_at

    response = client.post(UNLINK)

    assert escape(services.GOOGLE_NOT_LINKED) in _shown(client, response)
    member.refresh_from_db()
    assert member.credentials_changed_at == stamp
    assert _user_of(other) is not None


# --- Forged tokens and a broken flow -------------------------------------------------------


@pytest.mark.parametrize("forgery", oidc.FORGERIES)
def test_forged_id_token_is_refused_and_writes_nothing(google_provider, forgery: str) -> None:
    google_provider.forge = forgery
    rows = _rows()
    client = Client()

    response = _dance(client, google_provider)

    assert response["Location"] == LOGIN
    assert escape(google.SIGN_IN_FAILED) in _shown(client, response)
    assert _rows() == rows
    assert _user_of(client) is None
    assert len(google_provider.requests_to("/token")) == 1


@pytest.mark.parametrize("forgery", ["bad_signature", "wrong_nonce", "alg_none"])
def test_forged_id_token_during_link_links_nothing(
    google_provider, member: User, forgery: str
) -> None:
    google_provider.forge = forgery
    client = signed_in(_verified(member))

    response = _dance(client, google_provider, link=True)

    assert response["Location"] == SETTINGS
    assert escape(google.SIGN_IN_FAILED) in _shown(client, response)
    assert not GoogleIdentity.objects.using(CREDS_DB).exists()
    signed_in_as = _user_of(client)
    assert signed_in_as is not None and signed_in_as.pk == member.pk


def _refused_before_redeeming(
    client: Client,
    fake: FakeOIDCProvider,
    response: HttpResponse,
    message: str,
    rows: dict[str, int],
) -> None:
    assert response["Location"] == LOGIN
    assert escape(message) in _shown(client, response)
    assert _rows() == rows
    assert _user_of(client) is None
    assert fake.requests_to("/token") == []  # the code was never even presented


def test_callback_with_wrong_state_is_refused(google_provider) -> None:
    rows = _rows()
    client = Client()
    callback = _at_provider(_start(client, google_provider))
    query = dict(parse_qsl(urlsplit(callback).query))

    response = client.get(CALLBACK, {"code": query["code"], "state": query["state"][:-1] + "x"})

    _refused_before_redeeming(client, google_provider, response, GOOGLE_STATE_MISMATCH, rows)
    # The pending sign-in is spent: the right state no longer works either.
    assert client.get(callback)["Location"] == LOGIN
    assert google_provider.requests_to("/token") == []


def test_callback_without_state_is_refused(google_provider) -> None:
    rows = _rows()
    client = Client()
    callback = _at_provider(_start(client, google_provider))
    code = dict(parse_qsl(urlsplit(callback).query))["code"]

    response = client.get(CALLBACK, {"code": code})

    _refused_before_redeeming(client, google_provider, response, GOOGLE_STATE_MISMATCH, rows)


def test_callback_in_a_browser_that_never_started_sign_in_is_refused(google_provider) -> None:
    # Login CSRF: an attacker's valid code and state opened in the victim's browser.
    rows = _rows()
    callback = _at_provider(_start(Client(), google_provider))
    victim = Client()

    response = victim.get(callback)

    _refused_before_redeeming(victim, google_provider, response, GOOGLE_STATE_MISMATCH, rows)


def test_provider_error_is_reported_as_cancelled(google_provider) -> None:
    rows = _rows()
    client = Client()
    state = _state_of(_start(client, google_provider))

    response = client.get(CALLBACK, {"error": "access_denied", "state": state})

    _refused_before_redeeming(client, google_provider, response, GOOGLE_CANCELLED, rows)
    assert GOOGLE_SESSION_KEY not in client.session


def test_replayed_callback_fails_the_second_time(google_provider) -> None:
    client = Client()
    callback = _at_provider(_start(client, google_provider))
    assert client.get(callback)["Location"] == HOME
    rows = _rows()

    replay = client.get(callback)

    # He is signed in by the first callback, so a failure sends him to settings.
    assert replay["Location"] == SETTINGS
    assert escape(GOOGLE_STATE_MISMATCH) in _shown(client, replay)
    assert _rows() == rows == {"users": 1, "credentials": 1, "identities": 1}
    assert len(google_provider.requests_to("/token")) == 1


def test_spent_code_with_a_fresh_state_is_refused(google_provider) -> None:
    client = Client()
    callback = _at_provider(_start(client, google_provider))
    old_code = dict(parse_qsl(urlsplit(callback).query))["code"]
    client.get(callback)
    client.post("/accounts/logout/")
    rows = _rows()
    fresh_state = _state_of(_start(client, google_provider))

    response = client.get(CALLBACK, {"code": old_code, "state": fresh_state})

    assert response["Location"] == LOGIN
    assert escape(google.SIGN_IN_FAILED) in _shown(client, response)
    assert _rows() == rows
    assert _user_of(client) is None


def test_non_ascii_state_is_refused_not_a_server_error(google_provider) -> None:
    client = Client()
    _start(client, google_provider)

    response = client.get(CALLBACK, {"code": "x", "state": "é"})

    assert response["Location"] == LOGIN
    assert escape(GOOGLE_STATE_MISMATCH) in _shown(client, response)


def test_unverified_google_email_is_refused(google_provider) -> None:
    google_provider.next_identity = _identity("sub-dan", "dan@example.com", email_verified=False)
    rows = _rows()
    client = Client()

    response = _dance(client, google_provider)

    assert response["Location"] == LOGIN
    assert escape(google.EMAIL_NOT_VERIFIED) in _shown(client, response)
    assert _rows() == rows
    assert _user_of(client) is None


@pytest.mark.parametrize("email_verified", ["true", 1, None])
def test_google_email_not_strictly_verified_is_refused(
    google_provider, email_verified: object
) -> None:
    identity = _identity("sub-dan", "dan@example.com", email_verified=email_verified)
    if email_verified is None:
        del identity["email_verified"]
    google_provider.next_identity = identity
    client = Client()

    response = _dance(client, google_provider)

    assert escape(google.EMAIL_NOT_VERIFIED) in _shown(client, response)
    assert _rows() == {"users": 0, "credentials": 0, "identities": 0}


# --- Google switched off ------------------------------------------------------------------


def test_google_off_sign_in_redirects_to_login_with_message(settings) -> None:
    settings.GOOGLE_CLIENT_ID = ""
    client = Client()

    response = client.get(SIGN_IN)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    page = _shown(client, response)
    assert f'role="status">{GOOGLE_OFF}</p>' in page
    assert "Sign in with Google" not in page
    assert GOOGLE_SESSION_KEY not in client.session


def test_login_page_says_nothing_of_google_when_off(settings) -> None:
    settings.GOOGLE_CLIENT_ID = ""

    page = Client().get(LOGIN).content.decode()

    # A feature the site has not set up is not mentioned at all.
    assert "Google" not in page
    assert f'href="{SIGN_IN}' not in page


def test_login_page_links_to_google_when_on(google_provider) -> None:
    page = Client().get(LOGIN, {"next": SETTINGS}).content.decode()

    assert "Sign in with Google" in page
    assert f'href="{SIGN_IN}?next={SETTINGS}"' in page
    assert "Google sign-in is not available" not in page


def test_google_switched_off_mid_flow_is_refused(google_provider, settings) -> None:
    client = Client()
    callback = _at_provider(_start(client, google_provider))
    settings.GOOGLE_CLIENT_ID = ""

    response = client.get(callback)

    assert response["Location"] == LOGIN
    assert escape(google.SIGN_IN_UNAVAILABLE) in _shown(client, response)
    assert _rows() == {"users": 0, "credentials": 0, "identities": 0}
    assert _user_of(client) is None


# --- Access control --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_google_sign_in_starts_for_every_persona(
    google_provider, request: pytest.FixtureRequest, persona: str
) -> None:
    client = _client_for(request, persona)

    url = _start(client, google_provider)

    pending = client.session[GOOGLE_SESSION_KEY]
    assert pending["intent"] == "sign_in"
    assert pending["state"] == _state_of(url)


@pytest.mark.parametrize("persona", PERSONAS)
def test_google_link_starts_for_every_verified_persona(
    google_provider, request: pytest.FixtureRequest, persona: str
) -> None:
    client = signed_in(_verified(request.getfixturevalue(persona)))

    _start(client, google_provider, link=True)

    assert client.session[GOOGLE_SESSION_KEY]["intent"] == "link"


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_unverified_persona_cannot_start_linking_google(
    google_provider, request: pytest.FixtureRequest, persona: str
) -> None:
    client = _client_for(request, persona)

    response = client.post(LINK)

    assert response["Location"] == SETTINGS
    assert escape(services.NOT_VERIFIED_FOR_GOOGLE) in _shown(client, response)
    assert GOOGLE_SESSION_KEY not in client.session
    assert google_provider.requests_to("/authorize") == []


def test_an_address_unverified_by_the_callback_links_nothing(google_provider, member: User) -> None:
    # Verified when he pressed "Link", not any more when Google answers (an
    # admin changed his address, say): the service checks again.
    google_provider.next_identity = _identity("sub-bob", "bob@gmail.com")
    client = signed_in(_verified(member))
    authorize = _start(client, google_provider, link=True)
    User.objects.filter(pk=member.pk).update(email_verified_at=None)

    response = client.get(_at_provider(authorize))

    assert response["Location"] == SETTINGS
    assert escape(services.NOT_VERIFIED_FOR_GOOGLE) in _shown(client, response)
    assert not GoogleIdentity.objects.using(CREDS_DB).exists()


@pytest.mark.parametrize("url", [LINK, UNLINK])
@pytest.mark.parametrize("persona", PERSONAS)
def test_get_on_post_only_google_urls_is_405(
    google_provider, request: pytest.FixtureRequest, persona: str, url: str
) -> None:
    client = _client_for(request, persona)

    assert client.get(url).status_code == 405
    assert GOOGLE_SESSION_KEY not in client.session


@pytest.mark.parametrize("url", [SIGN_IN, CALLBACK])
@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_post_on_get_only_google_urls_is_405(
    google_provider, request: pytest.FixtureRequest, persona: str, url: str
) -> None:
    assert _client_for(request, persona).post(url).status_code == 405


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [LINK, UNLINK])
def test_anonymous_link_and_unlink_redirect_to_login(
    google_provider, url: str, method: str
) -> None:
    rows = _rows()

    response = getattr(Client(), method)(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url}"
    assert _rows() == rows


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_callback_without_pending_sign_in_is_refused_for_every_persona(
    google_provider, request: pytest.FixtureRequest, persona: str
) -> None:
    client = _client_for(request, persona)
    rows = _rows()

    response = client.get(CALLBACK, {"code": "made-up", "state": "made-up"})

    assert response.status_code == 302
    assert response["Location"] == (LOGIN if persona == "anonymous" else SETTINGS)
    assert escape(GOOGLE_STATE_MISMATCH) in _shown(client, response)
    assert _rows() == rows
    assert google_provider.requests_to("/token") == []
