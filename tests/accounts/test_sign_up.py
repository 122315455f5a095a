from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import Client

from accounts import services
from accounts.models import Credential, User
from tests.conftest import PASSWORD, committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

FORM = {
    "email": "Sam@Example.com",
    "full_name": "Sam Newman",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


def verify_link() -> str:
    return re.search(r"https?://[^/]+(/accounts/verify/\S+/)", mail.outbox[-1].body)[1]


def verify(client: Client, link: str, password: str = PASSWORD):
    """Open the emailed link and confirm with the password, as the newcomer does."""
    assert client.get(link).status_code == 200
    return client.post(link, {"password": password})


def test_sign_up_creates_an_unverified_member_mails_a_link_and_signs_nobody_in(
    client: Client,
) -> None:
    with committed():
        response = client.post("/accounts/signup/", FORM)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/done/"
    user = User.objects.get()
    assert user.email == "Sam@example.com"
    assert user.full_name == "Sam Newman"
    assert not user.is_verified
    assert user.from_sign_up
    assert Credential.objects.filter(user_id=user.pk).exists()
    assert "_auth_user_id" not in client.session
    assert client.get("/accounts/settings/").status_code == 302  # not signed in
    assert mail.outbox[-1].to == ["Sam@example.com"]
    assert "Verify your email" in mail.outbox[-1].subject
    assert mail.outbox[-1].alternatives  # an HTML part too
    done = client.get(response["Location"])
    assert done.status_code == 200
    assert "Check your email" in done.content.decode()


def test_the_verification_link_asks_the_password_then_verifies_and_signs_in(
    client: Client,
) -> None:
    with committed():
        client.post("/accounts/signup/", FORM)
    link = verify_link()

    page = client.get(link)
    assert page.status_code == 200
    assert "Sam@example.com" in page.content.decode()
    assert not User.objects.get().is_verified  # a GET never writes

    response = client.post(link, {"password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    user = User.objects.get()
    assert user.is_verified
    assert client.get("/accounts/settings/").wsgi_request.user == user


def test_a_wrong_password_on_the_verification_page_verifies_nothing(client: Client) -> None:
    with committed():
        client.post("/accounts/signup/", FORM)

    response = verify(client, verify_link(), password="Not-the-password-1")

    assert response.status_code == 200
    assert services.VERIFY_NEEDS_PASSWORD in response.content.decode()
    assert not User.objects.get().is_verified
    assert "_auth_user_id" not in client.session


def test_an_unverified_sign_up_cannot_sign_in_with_its_password(client: Client) -> None:
    client.post("/accounts/signup/", FORM)

    page = client.post("/accounts/login/", {"username": FORM["email"], "password": PASSWORD})
    api = client.post(
        "/api/v1/auth/token/",
        {"email": FORM["email"], "password": PASSWORD},
        content_type="application/json",
    )

    # Word for word what a wrong password gets: see the enumeration tests.
    assert page.status_code == 200
    assert "Please enter a correct email address and password" in page.content.decode()
    assert api.status_code == 401
    assert "_auth_user_id" not in client.session


def test_a_verified_sign_up_signs_in_with_its_password(client: Client) -> None:
    with committed():
        client.post("/accounts/signup/", FORM)
    verify(Client(), verify_link())

    response = client.post("/accounts/login/", {"username": FORM["email"], "password": PASSWORD})

    assert response.status_code == 302


@pytest.mark.parametrize(
    "target", ["/circles/brooklyn-tuesday/", "/circles/x/join/?step=2", "/dashboard/"]
)
def test_next_flows_from_sign_up_through_the_link_and_back(client: Client, target: str) -> None:
    page = client.get("/accounts/signup/", {"next": target})
    assert f'name="next" value="{target}"'.replace("&", "&amp;") in page.content.decode()
    with committed():
        client.post("/accounts/signup/", {**FORM, "next": target})

    # Opened on another device: the way back travels with the account, not the browser.
    phone = Client()
    response = verify(phone, verify_link())

    assert response["Location"] == target
    assert User.objects.get().sign_up_next == ""  # used once


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_an_offsite_next_is_dropped_at_sign_up(client: Client, target: str) -> None:
    with committed():
        client.post("/accounts/signup/", {**FORM, "next": target})

    assert User.objects.get().sign_up_next == ""
    assert verify(Client(), verify_link())["Location"] == "/dashboard/"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address"),
        ({"password1": "12345678", "password2": "12345678"}, "password2", "too common"),
        ({"password1": "short", "password2": "short"}, "password2", "too short"),
        ({"password2": "Something-else-99"}, "password2", "match"),
        ({"full_name": ""}, "full_name", "required"),
        ({"email": ""}, "email", "required"),
    ],
)
def test_bad_sign_up_shows_the_error_and_creates_nothing(
    client: Client, member: User, change: dict, field: str, message: str
) -> None:
    response = client.post("/accounts/signup/", {**FORM, **change})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert User.objects.count() == 1
    assert Credential.objects.count() == 1
    assert mail.outbox == []


def test_empty_sign_up_post_is_a_form_error_not_a_500(client: Client) -> None:
    response = client.post("/accounts/signup/", {})

    assert response.status_code == 200
    assert not User.objects.exists()


def test_signed_in_member_is_sent_away_from_sign_up(member: User) -> None:
    assert signed_in(member).get("/accounts/signup/").status_code == 302


def test_sign_up_page_opens_for_anonymous(client: Client) -> None:
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    assert b'autocomplete="email"' in response.content
    assert b'autocomplete="new-password"' in response.content


def test_verification_link_verifies_once(client: Client) -> None:
    with committed():
        client.post("/accounts/signup/", FORM)
    link = verify_link()

    first = verify(client, link)
    second = Client().get(link, follow=True)

    assert User.objects.get().is_verified
    assert services.VERIFY_DONE in client.get(first["Location"]).content.decode()
    assert services.VERIFY_ALREADY in second.content.decode()


def test_verification_works_in_another_browser(client: Client) -> None:
    with committed():
        client.post("/accounts/signup/", FORM)
    link = verify_link()

    other = Client()
    response = verify(other, link)

    assert User.objects.get().is_verified
    assert services.VERIFY_DONE in other.get(response["Location"]).content.decode()


def test_a_signed_in_member_verifies_without_retyping_his_password(member: User) -> None:
    client = signed_in(member)
    link = f"/accounts/verify/{services.verification_token(member)}/"

    page = client.get(link)
    response = client.post(link)

    assert 'name="password"' not in page.content.decode()
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.is_verified
    # His own session went with the first proof; the one that proved it goes on.
    assert client.get("/accounts/settings/").status_code == 200


def test_a_member_signed_in_as_someone_else_must_type_the_password(
    member: User, outsider: User
) -> None:
    client = signed_in(outsider)
    link = f"/accounts/verify/{services.verification_token(member)}/"

    response = client.post(link)

    assert response.status_code == 200
    member.refresh_from_db()
    assert not member.is_verified


class SignedFourDaysAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() - timedelta(days=4).total_seconds()))


def test_an_expired_verification_link_is_refused(client: Client) -> None:
    user = make_user("old@example.com")
    expired = SignedFourDaysAgo(salt=services.VERIFY_SALT).sign_object(
        {"u": user.pk, "e": user.email}
    )

    response = client.get(f"/accounts/verify/{expired}/", follow=True)

    assert services.VERIFY_EXPIRED in response.content.decode()
    user.refresh_from_db()
    assert not user.is_verified


@pytest.mark.parametrize("token", ["garbage", "a" * 300, "eyJ1IjoxfQ:1abc:def"])
def test_a_forged_verification_link_is_refused(client: Client, member: User, token: str) -> None:
    response = client.get(f"/accounts/verify/{token}/", follow=True)

    assert response.status_code == 200
    assert services.VERIFY_INVALID in response.content.decode()
    member.refresh_from_db()
    assert not member.is_verified


def test_a_link_for_an_old_email_address_is_refused(member: User) -> None:
    token = services.verification_token(member)
    member.email = "robert@example.com"
    member.save()

    response = Client().get(f"/accounts/verify/{token}/", follow=True)

    assert services.VERIFY_INVALID in response.content.decode()


def test_an_unverified_member_can_ask_for_a_new_link(member: User) -> None:
    client = signed_in(member)

    with committed():
        response = client.post("/accounts/verify/resend/", follow=True)

    assert "We sent a new link" in response.content.decode()
    assert mail.outbox[-1].to == [member.email]
    verify(Client(), verify_link())
    member.refresh_from_db()
    assert member.is_verified


def test_a_verified_member_gets_no_new_link(member: User) -> None:
    verify(Client(), f"/accounts/verify/{services.verification_token(member)}/")
    mail.outbox.clear()

    with committed():
        response = signed_in(member).post("/accounts/verify/resend/", follow=True)

    assert services.VERIFY_ALREADY in response.content.decode()
    assert mail.outbox == []


def test_resend_needs_sign_in_and_a_post(client: Client, member: User) -> None:
    assert client.post("/accounts/verify/resend/")["Location"].startswith("/accounts/login/")
    assert signed_in(member).get("/accounts/verify/resend/").status_code == 405
