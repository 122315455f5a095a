"""No working token rests in the main database, and every link comes from SITE_URL.

One member's first days, through the pages, with the request's Host
(`localhost`) not the public address: he signs up, verifies, asks for a
password reset, makes a calendar feed, links Google and changes his email
address. Every column of every
table in `default` is read while his messages wait and after they are sent;
no part of any token he was given is there.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
import requests
from django.core import mail
from django.test import Client

from accounts import services
from accounts.models import EmailChange, User
from accounts.tokens import password_reset_token
from notifications import delivery
from notifications.models import Notification
from tests.conftest import PASSWORD
from tests.fakes import oidc
from tests.secrets_scan import database_text, find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")

google_provider = oidc.google_provider

SITE = "https://circles.example.org"
URL = re.compile(r"https?://[^\s\"'<>]+")


def links_in(message: EmailMessage) -> list[str]:
    html = "".join(content for content, _ in getattr(message, "alternatives", []))
    return URL.findall(message.body) + URL.findall(html)


def parts(secret: str) -> list[str]:
    """The token and each piece of it long enough to mean something."""
    return [secret, *(p for p in re.split(r"[:/.\-]", secret) if len(p) >= 8)]


def path_of(url: str) -> str:
    assert url.startswith(SITE + "/"), url
    return url.removeprefix(SITE)


def one_link(message, marker: str) -> str:
    # The plain and the HTML part carry the same link.
    [link] = {url for url in links_in(message) if marker in url}
    return link


def test_a_members_tokens_never_rest_in_the_main_database(settings, google_provider) -> None:
    settings.SITE_URL = SITE
    client = Client(HTTP_HOST="localhost")
    dumps: list[str] = []
    secrets: list[str] = []

    # Sign up: the verification email waits in the log, with no link in it.
    response = client.post(
        "/accounts/signup/",
        {
            "email": "sam@example.com",
            "full_name": "Sam Newman",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="sam@example.com")
    waiting = Notification.objects.get(user=user, kind="verify_email")
    assert waiting.status == Notification.Status.PENDING
    assert "{link:url}" in waiting.body and "{link:url}" in waiting.html_body
    assert "/accounts/verify/" not in waiting.body + waiting.html_body
    dumps.append(database_text("default"))
    # What a link minted at this moment would carry is not there either.
    secrets.append(services.verification_token(user))

    delivery.deliver_due()
    verify_url = one_link(mail.outbox[-1], "/accounts/verify/")
    secrets.append(verify_url.rsplit("/", 2)[-2])
    # The link asks for his password, then verifies and signs him in.
    assert client.get(path_of(verify_url)).status_code == 200
    assert client.post(path_of(verify_url), {"password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert user.is_verified

    # A password reset asked for from "localhost": the link still names SITE_URL.
    response = client.post("/accounts/password/reset/", {"email": "sam@example.com"})
    assert response.status_code == 302
    assert Notification.objects.get(user=user, kind="password_reset").status == "pending"
    dumps.append(database_text("default"))
    secrets.append(password_reset_token.make_token(user))

    delivery.deliver_due()
    reset_url = one_link(mail.outbox[-1], "/accounts/password/reset/")
    secrets.append(reset_url.rstrip("/").rsplit("/", 1)[-1])

    # A calendar feed: its link is shown (on every visit, remade from its nonce), from SITE_URL.
    client.post("/accounts/login/", {"username": "sam@example.com", "password": PASSWORD})
    page = client.post("/calendar/", {"action": "create"}, follow=True).content.decode()
    feed_url = re.search(r'value="([^"]+\.ics)"', page)[1]
    assert feed_url.startswith(SITE + "/calendar/")
    secrets.append(feed_url.rsplit("/", 1)[-1].removesuffix(".ics"))

    # Google linked through the fake provider: state, nonce, code, verifier, tokens.
    authorize = client.post("/accounts/google/link/")["Location"]
    at_provider = requests.get(authorize, allow_redirects=False, timeout=5)
    callback = at_provider.headers["Location"]
    assert client.get(path_of(callback)).status_code == 302
    [token_request] = google_provider.requests_to("/token")
    [authorize_request] = google_provider.requests_to("/authorize")
    secrets += [
        authorize_request["query"]["state"],
        authorize_request["query"]["nonce"],
        token_request["form"]["code"],
        token_request["form"]["code_verifier"],
        *google_provider.issued[-1].values(),
    ]

    # Every emailed link points at SITE_URL; the reset link still works.
    for message in mail.outbox:
        for link in links_in(message):
            assert link == SITE or link.startswith(SITE + "/"), (message.subject, link)
    set_password = client.get(path_of(reset_url), follow=True)
    assert set_password.status_code == 200
    done = client.post(
        set_password.redirect_chain[-1][0],
        {"new_password1": "Another-quiet-river-48", "new_password2": "Another-quiet-river-48"},
    )
    assert done.status_code == 302
    assert User.objects.get(pk=user.pk).check_password("Another-quiet-river-48")

    # He moves his account to a new address: the link waits as a placeholder,
    # then goes to the new address only.
    client.post(
        "/accounts/login/", {"username": "sam@example.com", "password": "Another-quiet-river-48"}
    )
    response = client.post(
        "/accounts/settings/email/",
        {"new_email": "sam.new@example.net", "password": "Another-quiet-river-48"},
    )
    assert response.status_code == 302
    waiting = Notification.objects.get(user=user, kind="email_change")
    assert waiting.status == Notification.Status.PENDING and "{link:url}" in waiting.body
    dumps.append(database_text("default"))
    secrets.append(services.email_change_token(EmailChange.objects.get(user=user)))

    delivery.deliver_due()
    assert mail.outbox[-1].to == ["sam.new@example.net"]
    change_url = one_link(mail.outbox[-1], "/accounts/email/confirm/")
    secrets.append(change_url.rstrip("/").rsplit("/", 1)[-1])
    assert client.post(path_of(change_url)).status_code == 302
    assert User.objects.get(pk=user.pk).email == "sam.new@example.net"
    delivery.deliver_due()  # the notice to the old address

    dumps.append(database_text("default"))
    needles = [part for secret in secrets if isinstance(secret, str) for part in parts(secret)]
    assert len(needles) >= 12
    for dump in dumps:
        assert [needle for needle in needles if needle in dump] == []
    assert find_in_database("default", needles) == []
    # The rows that carried links still carry only their placeholder.
    for row in Notification.objects.filter(user=user):
        assert row.status == Notification.Status.SENT
        assert ("{link:url}" in row.body) == (row.kind != "email_changed")
