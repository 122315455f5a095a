"""Two-factor sign-in: staff before any admin page, members when they turn it on.

A superuser enrols through the pages as a person would (scans nothing: types
the key the page shows into our stand-in authenticator), then reaches the
admin only with a correct code, once with a recovery code. Codes work once,
tries are limited per account, secrets rest only in `creds` (recovery codes
hashed), and the gate holds whichever form signed him in.
"""

from __future__ import annotations

import re
import threading
import time
from base64 import b32decode
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.api import OTP_REQUIRED
from accounts.models import RecoveryCode, Session, TOTPDevice, User
from accounts.two_factor_views import RECOVERY_USED, TURNED_OFF
from tests.conftest import PASSWORD, committed, give_authenticator, make_user
from tests.secrets_scan import database_text

pytestmark = pytest.mark.django_db(databases="__all__")

VERIFY = "/accounts/two-factor/verify/"
SETUP = "/accounts/two-factor/setup/"
OVERVIEW = "/accounts/two-factor/"
DISABLE = "/accounts/two-factor/disable/"
RENEW = "/accounts/two-factor/recovery-codes/"
KEY_IN_PAGE = re.compile(r'<code class="secret-key">([A-Z2-7]+)</code>')
URI_IN_PAGE = re.compile(r'<code class="secret-key">(otpauth://[^<]+)</code>')
CODE_IN_PAGE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


class Authenticator:
    """The app on his phone: knows the base32 key he typed in, shows the current code."""

    def __init__(self, base32_key: str) -> None:
        self.key = b32decode(base32_key + "=" * (-len(base32_key) % 8))

    def code(self, *, steps_ahead: int = 0) -> str:
        from django_otp.oath import TOTP

        totp = TOTP(self.key, step=two_factor.STEP, digits=two_factor.DIGITS)
        totp.time = time.time() + steps_ahead * two_factor.STEP
        return f"{totp.token():06d}"


def password_sign_in(user: User, *, via: str = "/accounts/login/") -> Client:
    client = Client()
    response = client.post(via, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def enrol(client: Client, next_url: str = "/admin/") -> tuple[Authenticator, list[str], Any]:
    """Through the setup pages: start, read the key, confirm with a first code."""
    client.post(SETUP, {"start": "1", "next": next_url})
    page = client.get(SETUP, {"next": next_url}).content.decode()
    app = Authenticator(KEY_IN_PAGE.search(page).group(1))
    done = client.post(SETUP, {"code": app.code(), "next": next_url})
    assert done.status_code == 200, done.content
    codes = CODE_IN_PAGE.findall(done.content.decode())
    return app, codes, done


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The superuser's first sign-in, through the pages ---------------------------------------


def test_a_superuser_enrols_and_reaches_the_admin_only_after_a_correct_code(
    superuser: User,
) -> None:
    client = password_sign_in(superuser)

    # Signed in with his password, the admin sends him to set up two-factor.
    first = client.get("/admin/", follow=True)
    assert [url for url, _ in first.redirect_chain] == [
        f"{VERIFY}?next=%2Fadmin%2F",
        f"{SETUP}?next=%2Fadmin%2F",
    ]
    assert b'name="start"' in first.content
    assert not TOTPDevice.objects.filter(user_id=superuser.pk).exists()  # a GET writes nothing
    for url in ("/admin/circles/circle/", "/admin/accounts/user/", "/admin/jsi18n/"):
        assert client.get(url)["Location"].startswith(VERIFY), url

    # Start: the page shows a QR code (inline SVG), the key and the otpauth URI.
    client.post(SETUP, {"start": "1", "next": "/admin/"})
    page = client.get(SETUP, {"next": "/admin/"}).content.decode()
    device = TOTPDevice.objects.get(user_id=superuser.pk)
    key = KEY_IN_PAGE.search(page).group(1)
    uri = URI_IN_PAGE.search(page).group(1).replace("&amp;", "&")
    assert key == two_factor.base32_key(device)
    assert uri.startswith("otpauth://totp/Men%27s%20Circle%3Aalice%40example.com?secret=" + key)
    assert "issuer=Men%27s%20Circle" in uri
    qr = page[page.index('<figure class="qr-code">') : page.index("</figure>")]
    assert qr.count("<svg ") == 1 and "<script" not in qr and "style=" not in qr
    assert device.confirmed_at is None
    assert client.get("/admin/")["Location"].startswith(VERIFY)  # not on until confirmed

    # A wrong code is refused and nothing is on.
    app = Authenticator(key)
    wrong = client.post(SETUP, {"code": "000000" if app.code() != "000000" else "111111"})
    assert two_factor.WRONG_CODE in wrong.content.decode()
    assert not two_factor.is_on(superuser)

    # The right code: on, and ten recovery codes shown once.
    done = client.post(SETUP, {"code": app.code(), "next": "/admin/"})
    codes = CODE_IN_PAGE.findall(done.content.decode())
    assert done.status_code == 200 and len(set(codes)) == 10
    assert "no-store" in done["Cache-Control"]
    assert two_factor.is_on(superuser)
    assert client.get("/admin/").status_code == 200

    # Next sign-in (the admin's own form): the admin waits for a code.
    again = password_sign_in(superuser, via="/admin/login/?next=/admin/")
    assert again.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert again.get("/admin/circles/circle/")["Location"].startswith(VERIFY)
    refused = again.post(VERIFY, {"code": "12345", "next": "/admin/"})
    assert two_factor.WRONG_CODE in refused.content.decode()
    # The code used to enrol is spent; the next one the app shows is good.
    replay = again.post(VERIFY, {"code": app.code(), "next": "/admin/"})
    assert two_factor.CODE_USED in replay.content.decode()
    passed = again.post(VERIFY, {"code": app.code(steps_ahead=1), "next": "/admin/"})
    assert passed["Location"] == "/admin/"
    assert again.get("/admin/").status_code == 200

    # Phone lost: a recovery code gets him in, once.
    lost = password_sign_in(superuser)
    used = lost.post(VERIFY, {"code": codes[0].upper(), "next": "/admin/"}, follow=True)
    assert used.redirect_chain[-1][0] == "/admin/"
    assert RECOVERY_USED.format(left=9) in messages_of(used)
    assert lost.get("/admin/").status_code == 200
    other = password_sign_in(superuser)
    reused = other.post(VERIFY, {"code": codes[0], "next": "/admin/"})
    assert two_factor.WRONG_CODE in reused.content.decode()
    assert other.get("/admin/").status_code == 302


def test_turning_it_on_signs_out_his_other_sessions_and_api_tokens(superuser: User) -> None:
    elsewhere = password_sign_in(superuser)
    token = APIClient().post(
        "/api/v1/auth/token/", {"email": superuser.email, "password": PASSWORD}, format="json"
    )
    access = token.json()["access"]
    here = password_sign_in(superuser)

    enrol(here)

    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/dashboard/")["Location"].startswith("/accounts/login/")
    me = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.status_code == 401


def test_restarting_the_setup_gives_a_new_key_and_the_old_one_stops_working(
    superuser: User,
) -> None:
    client = password_sign_in(superuser)
    client.post(SETUP, {"start": "1"})
    old = Authenticator(KEY_IN_PAGE.search(client.get(SETUP).content.decode()).group(1))
    client.post(SETUP, {"start": "1"})
    new = Authenticator(KEY_IN_PAGE.search(client.get(SETUP).content.decode()).group(1))

    refused = client.post(SETUP, {"code": old.code()})
    done = client.post(SETUP, {"code": new.code()})

    assert old.key != new.key
    assert refused.status_code == 200 and two_factor.WRONG_CODE in refused.content.decode()
    assert len(CODE_IN_PAGE.findall(done.content.decode())) == 10


def test_a_confirmed_device_cannot_be_replaced_by_starting_again(superuser: User) -> None:
    client = password_sign_in(superuser)
    enrol(client)
    key = TOTPDevice.objects.get(user_id=superuser.pk).key

    response = client.post(SETUP, {"start": "1"}, follow=True)

    assert two_factor.ALREADY_ON in messages_of(response)
    assert TOTPDevice.objects.get(user_id=superuser.pk).key == key


# --- The gate, whichever form signed him in -------------------------------------------------


@pytest.mark.parametrize("via", ["/accounts/login/", "/admin/login/", "force_login"])
def test_the_gate_holds_for_every_way_of_signing_in(superuser: User, via: str) -> None:
    give_authenticator(superuser)
    if via == "force_login":  # what Google sign-in does: django.contrib.auth.login()
        client = Client()
        client.force_login(superuser)
    else:
        client = password_sign_in(superuser, via=via)

    for url in ("/admin/", "/admin/accounts/user/", "/dashboard/", "/accounts/settings/", "/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(VERIFY), url
    assert client.get(VERIFY).status_code == 200


def test_staff_without_two_factor_use_member_pages_but_not_the_admin(db: None) -> None:
    staff = make_user("frank@example.com", is_staff=True)
    staff.groups.add(Group.objects.get_or_create(name="Facilitators")[0])
    client = password_sign_in(staff)

    assert client.get("/dashboard/").status_code == 200
    assert client.get("/admin/", follow=True).redirect_chain[-1][0].startswith(SETUP)


def test_a_member_with_two_factor_on_reaches_only_the_code_page_and_sign_out(
    member: User,
) -> None:
    give_authenticator(member)
    client = password_sign_in(member)

    for url in ("/dashboard/", "/accounts/settings/", "/circles/", "/billing/", OVERVIEW):
        assert client.get(url)["Location"].startswith(VERIFY), url
    # His session is no session for the API until then.
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert client.get(VERIFY).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(user_id=member.pk).exists()


def test_after_the_code_the_member_has_his_pages_and_his_session_api(member: User) -> None:
    device = give_authenticator(member)
    client = password_sign_in(member)
    app = Authenticator(two_factor.base32_key(device))

    response = client.post(VERIFY, {"code": app.code(), "next": "/dashboard/"})

    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200


def test_the_code_page_never_sends_him_off_site(member: User) -> None:
    device = give_authenticator(member)
    client = password_sign_in(member)
    app = Authenticator(two_factor.base32_key(device))

    response = client.post(VERIFY, {"code": app.code(), "next": "https://evil.example/"})

    assert response["Location"] == "/dashboard/"


def test_a_member_without_two_factor_signs_in_as_before(member: User) -> None:
    client = password_sign_in(member)

    assert client.get("/dashboard/").status_code == 200
    assert client.get(VERIFY)["Location"] == "/dashboard/"


# --- Members turn it on and off ---------------------------------------------------------------


def test_a_member_turns_it_on_from_his_settings_and_off_with_a_code(member: User) -> None:
    client = password_sign_in(member)
    settings_page = client.get("/accounts/settings/").content.decode()
    assert f'href="{OVERVIEW}"' in settings_page
    assert "Off: signing in needs only your password." in client.get(OVERVIEW).content.decode()

    _app, codes, _done = enrol(client, next_url="/accounts/two-factor/")

    assert "Recovery codes left: <strong>10</strong>" in client.get(OVERVIEW).content.decode()
    # Signing in now needs the code.
    later = password_sign_in(member)
    assert later.get("/dashboard/")["Location"].startswith(VERIFY)
    # Off: only with a good code.
    wrong = client.post(DISABLE, {"code": "nope-nope"})
    assert wrong.status_code == 200 and two_factor.WRONG_CODE in wrong.content.decode()
    empty = client.post(DISABLE, {"code": ""})
    assert empty.status_code == 200 and two_factor.CODE_REQUIRED in empty.content.decode()
    assert two_factor.is_on(member)
    off = client.post(DISABLE, {"code": codes[3]}, follow=True)
    assert TURNED_OFF in messages_of(off)
    assert not two_factor.is_on(member)
    assert not RecoveryCode.objects.filter(user_id=member.pk).exists()
    assert password_sign_in(member).get("/dashboard/").status_code == 200


def test_new_recovery_codes_replace_the_old_ones(member: User) -> None:
    client = password_sign_in(member)
    _app, old, _done = enrol(client, next_url=OVERVIEW)

    refused = client.post(RENEW, {"code": "000000"})
    renewed = client.post(RENEW, {"code": old[0]})
    new = CODE_IN_PAGE.findall(renewed.content.decode())

    assert two_factor.WRONG_CODE in refused.content.decode()
    assert len(new) == 10 and not set(new) & set(old)
    later = password_sign_in(member)
    assert two_factor.WRONG_CODE in later.post(VERIFY, {"code": old[1]}).content.decode()
    assert later.post(VERIFY, {"code": new[1]}).status_code == 302


def test_staff_who_turn_it_off_are_asked_to_set_it_up_again(superuser: User) -> None:
    client = password_sign_in(superuser)
    _app, codes, _done = enrol(client)

    client.post(DISABLE, {"code": codes[0]})

    assert client.get("/admin/", follow=True).redirect_chain[-1][0].startswith(SETUP)


def test_changes_are_emailed_to_him(member: User) -> None:
    client = password_sign_in(member)
    with committed():
        _app, codes, _done = enrol(client, next_url=OVERVIEW)
    with committed():
        client.post(DISABLE, {"code": codes[0]})

    subjects = [m.subject for m in mail.outbox]
    assert "Two-factor sign-in is on for your Men's Circle account" in subjects
    assert "Two-factor sign-in is off for your Men's Circle account" in subjects
    assert all(codes[1] not in m.body for m in mail.outbox)


# --- Limits and races ---------------------------------------------------------------------


def test_tries_are_limited_per_account_and_the_right_code_waits_too(member: User) -> None:
    device = give_authenticator(member)
    app = Authenticator(two_factor.base32_key(device))
    client = password_sign_in(member)

    for _ in range(two_factor.ATTEMPTS.max):
        assert two_factor.WRONG_CODE in client.post(VERIFY, {"code": "999999"}).content.decode()
    # Another browser does not start a new count.
    other = password_sign_in(member)
    blocked = other.post(VERIFY, {"code": app.code()})

    assert "Too many tries. Please wait 15 minutes" in blocked.content.decode()
    assert other.get("/dashboard/")["Location"].startswith(VERIFY)


def test_the_owner_is_told_once_when_codes_keep_failing(member: User) -> None:
    give_authenticator(member)
    client = password_sign_in(member)

    with committed():
        for _ in range(two_factor.ATTEMPTS.max + 3):
            client.post(VERIFY, {"code": "999999"})

    alerts = [m for m in mail.outbox if "Someone is trying to sign in" in m.subject]
    assert len(alerts) == 1
    assert alerts[0].to == [member.email]
    assert "/accounts/password/reset/" in alerts[0].body


def test_turned_off_in_another_session_the_waiting_one_is_let_go(member: User) -> None:
    passed = password_sign_in(member)
    _app, codes, _done = enrol(passed, next_url=OVERVIEW)
    waiting = password_sign_in(member)
    assert waiting.get("/dashboard/")["Location"].startswith(VERIFY)

    passed.post(DISABLE, {"code": codes[0]})

    response = waiting.get("/dashboard/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/dashboard/"


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_one_code_sent_twice_at_once_is_accepted_once() -> None:
    user = make_user("dan@example.com")
    device = give_authenticator(user)
    code = Authenticator(two_factor.base32_key(device)).code()
    barrier = threading.Barrier(2)

    def use(_: int) -> str:
        try:
            barrier.wait(timeout=5)
            return two_factor.verify(user=user, code=code)
        except two_factor.TwoFactorError as error:
            return error.message
        finally:
            for connection in connections.all():
                connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(use, range(2)))

    assert outcomes == sorted(["totp", two_factor.CODE_USED])


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_parallel_wrong_codes_get_no_more_checks_than_the_limit() -> None:
    user = make_user("eve@example.com")
    give_authenticator(user)
    barrier = threading.Barrier(12)

    def guess(n: int) -> str:
        try:
            barrier.wait(timeout=5)
            two_factor.verify(user=user, code=f"{n:06d}")
            return "in"
        except two_factor.TooManyTries:
            return "throttled"
        except two_factor.TwoFactorError:
            return "checked"
        finally:
            for connection in connections.all():
                connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(guess, range(100000, 100012)))

    assert outcomes.count("checked") + outcomes.count("in") == two_factor.ATTEMPTS.max
    assert outcomes.count("throttled") == 12 - two_factor.ATTEMPTS.max


# --- Where the secrets rest ---------------------------------------------------------------


def test_keys_and_recovery_codes_rest_only_in_creds_and_codes_only_hashed(superuser: User) -> None:
    client = password_sign_in(superuser)
    with committed():
        _app, codes, _done = enrol(client)
    device = TOTPDevice.objects.get(user_id=superuser.pk)
    base32 = two_factor.base32_key(device)
    hashes = list(
        RecoveryCode.objects.filter(user_id=superuser.pk).values_list("code_hash", flat=True)
    )
    plain = [c.replace("-", "") for c in codes]

    main = database_text("default")
    creds = database_text("creds")

    for secret in [device.key, base32, *codes, *plain, *hashes]:
        assert secret not in main, secret
    assert device.key in creds
    assert len(hashes) == 10 and all(h in creds for h in hashes)
    for code in [*codes, *plain]:
        assert code not in creds, code


def test_deleting_the_account_deletes_his_authenticator_and_codes(member: User) -> None:
    client = password_sign_in(member)
    enrol(client, next_url=OVERVIEW)

    member.delete()

    assert not TOTPDevice.objects.filter(user_id=member.pk).exists()
    assert not RecoveryCode.objects.filter(user_id=member.pk).exists()


def test_his_data_export_says_whether_it_is_on_but_holds_no_secret(member: User) -> None:
    client = password_sign_in(member)
    _app, codes, _done = enrol(client, next_url=OVERVIEW)
    key = TOTPDevice.objects.get(user_id=member.pk).key

    export = client.get("/accounts/settings/export/")
    data = export.json()

    assert data["credentials"]["two_factor"]["on"] is True
    assert data["credentials"]["two_factor"]["recovery_codes_left"] == 10
    text = export.content.decode()
    assert key not in text and codes[0] not in text


# --- Operators: manage.py mfa_reset -------------------------------------------------------


def test_mfa_reset_removes_his_device_and_signs_him_out_everywhere(superuser: User, capsys) -> None:
    client = password_sign_in(superuser)
    enrol(client)
    assert client.get("/admin/").status_code == 200

    with committed():
        call_command("mfa_reset", "ALICE@example.com")

    out = capsys.readouterr().out
    assert "Reset two-factor for alice@example.com (two-factor was on)" in out
    assert "sets it up again at his next sign-in" in out
    assert not TOTPDevice.objects.filter(user_id=superuser.pk).exists()
    assert not RecoveryCode.objects.filter(user_id=superuser.pk).exists()
    assert not Session.objects.filter(user_id=superuser.pk).exists()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert any("was reset" in m.subject for m in mail.outbox)
    fresh = password_sign_in(superuser)
    assert fresh.get("/admin/", follow=True).redirect_chain[-1][0].startswith(SETUP)


def test_mfa_reset_of_an_unknown_address_says_so() -> None:
    with pytest.raises(CommandError, match=r"No account with the email address x@example\.com"):
        call_command("mfa_reset", "x@example.com")


# --- The API token endpoint ---------------------------------------------------------------


def token(user: User, **extra: str):
    body = {"email": user.email, "password": PASSWORD, **extra}
    return APIClient().post("/api/v1/auth/token/", body, format="json")


def test_the_token_endpoint_asks_for_the_code_of_an_account_with_two_factor(
    member: User,
) -> None:
    device = give_authenticator(member)
    app = Authenticator(two_factor.base32_key(device))
    two_factor.recovery_codes_make(user=member)  # old ones gone; make known ones
    codes = two_factor.recovery_codes_make(user=member)

    missing = token(member)
    wrong = token(member, otp="000000" if app.code() != "000000" else "111111")
    good = token(member, otp=app.code())
    replay = token(member, otp=app.code())
    recovery = token(member, otp=codes[0])
    bad_password = token(member, password="wrong", otp=app.code(steps_ahead=1))

    assert missing.status_code == 401 and missing.json()["detail"] == OTP_REQUIRED
    assert wrong.status_code == 401 and wrong.json()["detail"] == two_factor.WRONG_CODE
    assert good.status_code == 200 and {"access", "refresh"} <= set(good.json())
    assert replay.status_code == 401 and replay.json()["detail"] == two_factor.CODE_USED
    assert recovery.status_code == 200
    assert bad_password.status_code == 401
    # The password was wrong: the code was not even looked at, so it is still good.
    assert token(member, otp=app.code(steps_ahead=1)).status_code == 200


def test_the_token_endpoint_limits_code_tries_with_a_429(member: User) -> None:
    give_authenticator(member)
    for _ in range(two_factor.ATTEMPTS.max):
        assert token(member, otp="999999").status_code == 401

    response = token(member, otp="999998")

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many tries.")


def test_an_account_without_two_factor_needs_no_code_for_a_token(member: User) -> None:
    assert token(member).status_code == 200
    assert token(member, otp="").status_code == 200


# --- Every page, by persona ---------------------------------------------------------------


@pytest.fixture
def treasurer(db: None) -> User:
    user = make_user("tess@example.com", full_name="Tess Treasurer", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Treasurers")[0])
    return user


@pytest.fixture
def facilitator(db: None) -> User:
    user = make_user("fred@example.com", full_name="Fred Facilitator", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Facilitators")[0])
    return user


@pytest.mark.parametrize("url", [OVERVIEW, SETUP, VERIFY])
def test_anonymous_visitors_are_sent_to_sign_in(url: str) -> None:
    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", [SETUP, DISABLE, RENEW])
def test_anonymous_posts_change_nothing(url: str, member: User) -> None:
    give_authenticator(member)

    response = Client().post(url, {"code": "123456", "start": "1"})

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert two_factor.is_on(member)


@pytest.mark.parametrize("who", ["member", "facilitator", "treasurer", "superuser"])
def test_each_persona_sees_his_own_two_factor_pages(who: str, request) -> None:
    user = request.getfixturevalue(who)
    client = password_sign_in(user)

    overview = client.get(OVERVIEW).content.decode()
    setup = client.get(SETUP)

    assert "Off: signing in needs only your password." in overview
    assert ("before you open the admin" in overview) is user.is_staff
    assert setup.status_code == 200 and b'name="start"' in setup.content
    enrol(client, next_url=OVERVIEW)
    assert "On: signing in needs your password" in client.get(OVERVIEW).content.decode()
    # His code page and his devices are his own: another man's code does nothing for him.
    assert TOTPDevice.objects.filter(user_id=user.pk).count() == 1


def test_a_code_of_another_account_does_not_open_his(member: User, outsider: User) -> None:
    give_authenticator(member)
    theirs = TOTPDevice.objects.create(
        user_id=outsider.pk, key="ab" * 20, confirmed_at=member.date_joined
    )
    client = password_sign_in(member)

    response = client.post(VERIFY, {"code": Authenticator(two_factor.base32_key(theirs)).code()})

    assert two_factor.WRONG_CODE in response.content.decode()
    assert client.get("/dashboard/")["Location"].startswith(VERIFY)


@pytest.mark.parametrize("typed", ["²²²²²²", "١٢٣٤٥٦", "12 34 56 78", "x" * 32, "-", "null\x00"])
def test_odd_input_on_the_code_page_is_a_wrong_code_not_an_error(member: User, typed: str) -> None:
    give_authenticator(member)
    client = password_sign_in(member)

    response = client.post(VERIFY, {"code": typed})

    # A NUL byte never reaches the view: the site answers any NUL with a 400.
    assert response.status_code == (400 if "\x00" in typed else 200)
    assert client.get("/dashboard/")["Location"].startswith(VERIFY)
