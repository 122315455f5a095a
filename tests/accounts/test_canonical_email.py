"""One canonical form of an email address, used by every look-up.

The attack from the issue: with `tim.victim@example.org` signed up, someone
signs up `tım.victim@example.org` (dotless ı). Uniqueness compared LOWER (they
differ), look-ups compared UPPER (they match), so every sign-in of the real
owner answered 500. Here every spelling of his address is his account:
through the sign-in page, the admin, the API, password reset, Google,
createsuperuser and changepassword. The look-alike sign-up makes no second
account, and the owner still signs in.
"""

# ruff: noqa: RUF001, RUF002, RUF003  (the look-alike letters are the point of these tests)

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.auth.management.commands import changepassword
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.canonical import email_key, retired_key
from accounts.models import EMAIL_TAKEN, GoogleIdentity, User
from tests.conftest import PASSWORD, committed, give_authenticator, make_user, signed_in, totp_code
from tests.fakes import oidc

pytestmark = pytest.mark.django_db(databases="__all__")

google_provider = oidc.google_provider

OWNER = "tim.victim@example.org"
# Each of these is the owner's address to us, as it was to PostgreSQL's UPPER.
LOOK_ALIKES = [
    "tım.victim@example.org",  # dotless ı (U+0131)
    "TIM.victim@EXAMPLE.org",  # case
    "tim.vıctım@example.org",
    "TİM.victim@example.org",  # dotted capital İ (U+0130)
    "tim.victim@ｅｘａｍｐｌｅ.org",  # fullwidth letters
    "tim.victim@example.org ",  # a trailing space
]
SAM = "sam.s@example.org"
SAM_LOOK_ALIKES = ["ſam.s@example.org", "sam.ſ@example.org", "SAM.S@example.org"]  # long ſ
KATE = "kate@example.org"
KATE_LOOK_ALIKES = ["\u212aate@example.org", "KATE@example.org"]  # Kelvin sign K (U+212A)
# Django's validator takes only ASCII (and ı İ ſ K) before the @; accents go in the domain.
JOSE = "jose@b\u00fccher.example"  # ü composed
JOSE_LOOK_ALIKES = ["jose@bu\u0308cher.example", "JOSE@BU\u0308CHER.example"]  # u + combining

ALL_CASES = [
    *((OWNER, other) for other in LOOK_ALIKES),
    *((SAM, other) for other in SAM_LOOK_ALIKES),
    *((KATE, other) for other in KATE_LOOK_ALIKES),
    *((JOSE, other) for other in JOSE_LOOK_ALIKES),
]
CASE_IDS = [repr(other) for _, other in ALL_CASES]

NEW_PASSWORD = "Another-quiet-river-48"


OTHER_PASSWORD = "Some-other-password-77"


def sign_up(address: str, password: str = OTHER_PASSWORD) -> Client:
    client = Client()
    with committed():
        response = client.post(
            "/accounts/signup/",
            {
                "email": address,
                "full_name": "Look Alike",
                "password1": password,
                "password2": password,
            },
        )
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == "/accounts/signup/done/"
    return client


# --- The key ---------------------------------------------------------------------------


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_every_look_alike_has_the_owners_key(owner: str, other: str) -> None:
    assert email_key(other) == email_key(owner)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("straße@example.org", "STRASSE@example.org"),  # ß folds to ss
        ("tim@bücher.de", "tim@xn--bcher-kva.de"),  # one domain, two spellings
        ("tim@BÜCHER.de", "TIM@xn--bcher-kva.DE"),
        ("ﬁnn@example.org", "finn@example.org"),  # a ligature
    ],
)
def test_the_key_folds_case_width_ligatures_and_idna(a: str, b: str) -> None:
    assert email_key(a) == email_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("jose@example.org", "josé@example.org"),  # accents are letters of their own
        ("tim.victim@example.org", "timvictim@example.org"),  # dots are not a Gmail-only rule
        ("tim+circle@example.org", "tim@example.org"),
        ("tim@example.org", "tim@example.com"),
    ],
)
def test_the_key_keeps_different_addresses_apart(a: str, b: str) -> None:
    assert email_key(a) != email_key(b)


def test_no_letter_postgresql_folds_together_gets_two_keys() -> None:
    # Every code point whose UPPER() or LOWER() in PostgreSQL (this database's
    # own collation) is another character: the key of each is the key of its
    # upper and its lower case, so no two addresses the old UPPER/LOWER
    # look-ups confused can stay apart.
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT n, upper(chr(n)), lower(chr(n)) FROM generate_series(1, 1114111) AS n "
            "WHERE (n < 55296 OR n > 57343) "
            "AND (upper(chr(n)) <> chr(n) OR lower(chr(n)) <> chr(n))"
        )
        rows = cursor.fetchall()

    assert len(rows) > 2000  # a Unicode-aware collation, as in production
    apart = [
        (hex(n), up, low)
        for n, up, low in rows
        if not email_key(chr(n)) == email_key(up) == email_key(low)
    ]
    assert apart == []


def test_a_key_holds_no_ascii_capital_so_a_retired_key_is_never_looked_up() -> None:
    capitals = re.compile("[A-Z]")
    bmp = (chr(n) for n in range(1, 0x10000) if not 0xD800 <= n <= 0xDFFF)
    assert [c for c in bmp if capitals.search(email_key(c))] == []
    assert not capitals.search(email_key("İSTANBUL.ǅ.ℛ@ＥＸＡＭＰＬＥ.ORG"))
    user = make_user(OWNER)
    User.objects.filter(pk=user.pk).update(email_key=retired_key(user.pk, email_key(OWNER)))

    for typed in [OWNER, retired_key(user.pk, email_key(OWNER))]:
        assert not User.objects.with_email(typed).exists()


def test_the_key_follows_the_address_on_save_update_and_bulk_create() -> None:
    user = make_user("first@example.org")
    user.email = "Second@Example.org"
    user.save(update_fields=["email"])
    assert User.objects.get(pk=user.pk).email_key == "second@example.org"

    User.objects.filter(pk=user.pk).update(email="THIRD@example.org")
    assert User.objects.get(pk=user.pk).email_key == "third@example.org"

    [bulk] = User.objects.bulk_create([User(email="Fourth@example.org")])
    assert User.objects.get(pk=bulk.pk).email_key == "fourth@example.org"


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_the_database_refuses_a_second_account_for_a_look_alike(owner: str, other: str) -> None:
    make_user(owner)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(other.strip(), PASSWORD)

    assert User.objects.count() == 1


# --- Sign-up: no second account -----------------------------------------------------------


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_a_look_alike_sign_up_makes_no_second_account_and_the_owner_still_signs_in(
    owner: str, other: str
) -> None:
    real = make_user(owner, full_name="Real Owner")

    sign_up(other)

    assert User.objects.count() == 1
    assert User.objects.get().email == owner
    # The owner hears of it, at his own address.
    assert [m.to for m in mail.outbox] == [[owner]]
    # He signs in as before, through the page and the API; nobody gets a 500.
    response = Client().post("/accounts/login/", {"username": owner, "password": PASSWORD})
    assert response.status_code == 302
    assert response.wsgi_request.user == real
    api = APIClient().post("/api/v1/auth/token/", {"email": owner, "password": PASSWORD})
    assert api.status_code == 200


def test_the_issue_case_the_real_owner_of_tim_victim_is_never_a_500() -> None:
    real = make_user(OWNER)
    sign_up("tım.victim@example.org")
    sign_up("tim.victım@example.org")

    assert list(User.objects.values_list("pk", flat=True)) == [real.pk]
    for typed in [OWNER, *LOOK_ALIKES]:
        response = Client().post("/accounts/login/", {"username": typed, "password": PASSWORD})
        assert response.status_code == 302, typed


# --- Every look-up: any spelling reaches the same account with its password -----------------


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_the_sign_in_page_reaches_the_owner_by_any_spelling(owner: str, other: str) -> None:
    real = make_user(owner)
    client = Client()

    response = client.post("/accounts/login/", {"username": other, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/accounts/settings/").wsgi_request.user == real


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_a_look_alike_spelling_with_a_wrong_password_is_refused(owner: str, other: str) -> None:
    make_user(owner)

    response = Client().post("/accounts/login/", {"username": other, "password": "wrong-one-1"})

    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.content.decode()


@pytest.mark.parametrize("other", ["tım.victim@example.org", "TIM.VICTIM@EXAMPLE.ORG"])
def test_the_admin_login_reaches_the_superuser_by_any_spelling(other: str) -> None:
    superuser = User.objects.create_superuser(OWNER, PASSWORD, full_name="Tim Admin")
    device = give_authenticator(superuser)
    sign_up(other)  # the attack that locked the superuser out
    client = Client()

    response = client.post("/admin/login/?next=/admin/", {"username": other, "password": PASSWORD})
    assert response.status_code == 302
    code = client.post("/accounts/two-factor/verify/", {"code": totp_code(device.key)})

    assert code.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_the_jwt_endpoint_reaches_the_owner_by_any_spelling(owner: str, other: str) -> None:
    real = make_user(owner)

    response = APIClient().post(
        "/api/v1/auth/token/", {"email": other, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    me = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.json()["id"] == real.pk


@pytest.mark.parametrize(("owner", "other"), ALL_CASES, ids=CASE_IDS)
def test_a_reset_asked_by_any_spelling_goes_to_the_owners_own_address(
    owner: str, other: str
) -> None:
    real = make_user(owner)

    with committed():
        response = Client().post("/accounts/password/reset/", {"email": other.strip()})

    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == [owner]  # never to the spelling that was typed
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", message.body)[1]
    client = Client()
    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert User.objects.get(pk=real.pk).check_password(NEW_PASSWORD)


def test_a_reset_for_a_look_alike_of_nobody_sends_nothing() -> None:
    make_user(OWNER)

    with committed():
        Client().post("/accounts/password/reset/", {"email": "tom.victim@example.org"})

    assert mail.outbox == []


@pytest.mark.parametrize("google_email", ["tım.victim@example.org", "TIM.VICTIM@example.org"])
def test_google_with_a_look_alike_address_does_not_make_a_second_account(
    google_provider, google_email: str
) -> None:
    make_user(OWNER)
    google_provider.next_identity = {
        "sub": "sub-look-alike",
        "email": google_email,
        "email_verified": True,
        "name": "Look Alike",
    }
    client = Client()

    start = client.get("/accounts/google/")
    callback = requests.get(start["Location"], allow_redirects=False, timeout=5)
    location = callback.headers["Location"].split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + location)

    assert response.status_code == 302
    assert services.GOOGLE_EMAIL_TAKEN in client.get(response["Location"]).content.decode()
    assert User.objects.count() == 1
    assert not GoogleIdentity.objects.exists()


def test_the_google_service_finds_the_account_by_key() -> None:
    make_user(KATE)

    with pytest.raises(services.AccountError, match="already exists"):
        services.google_sign_in(sub="sub-k", email="\u212aate@example.org", name="K")

    assert User.objects.count() == 1


# --- Admin forms and operator commands ---------------------------------------------------------


@pytest.mark.parametrize("other", ["tım.victim@example.org", "TIM.victim@example.org"])
def test_the_admin_add_form_refuses_a_look_alike(superuser: User, other: str) -> None:
    make_user(OWNER)

    response = signed_in(superuser).post(
        "/admin/accounts/user/add/",
        {
            "email": other,
            "full_name": "Look Alike",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert EMAIL_TAKEN in response.content.decode()
    assert User.objects.count() == 2


def test_the_admin_change_form_refuses_a_look_alike_of_another_account(
    superuser: User, member: User
) -> None:
    make_user(OWNER)
    url = f"/admin/accounts/user/{member.pk}/change/"

    response = signed_in(superuser).post(
        url,
        {
            "email": "tım.victim@example.org",
            "full_name": member.full_name,
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert EMAIL_TAKEN in response.content.decode()
    assert User.objects.get(pk=member.pk).email == member.email


def test_the_admin_change_form_lets_an_account_respell_its_own_address(
    superuser: User, member: User
) -> None:
    response = signed_in(superuser).post(
        f"/admin/accounts/user/{member.pk}/change/",
        {"email": "Bob@Example.com", "full_name": member.full_name, "is_active": "on"},
    )

    assert response.status_code == 302, response.content
    assert User.objects.get(pk=member.pk).email == "Bob@Example.com"


@pytest.mark.parametrize("other", ["tım.victim@example.org", "TIM.victim@example.org"])
def test_createsuperuser_refuses_a_look_alike(monkeypatch, other: str) -> None:
    make_user(OWNER)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)

    with pytest.raises(CommandError, match="already taken"):
        call_command("createsuperuser", "--noinput", "--email", other)

    assert User.objects.count() == 1


@pytest.mark.parametrize("typed", ["tım.victim@example.org", "TIM.Victim@Example.org"])
def test_changepassword_finds_the_account_by_any_spelling(monkeypatch, typed: str) -> None:
    real = make_user(OWNER)
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", typed)

    assert User.objects.get(pk=real.pk).check_password(NEW_PASSWORD)


def test_changepassword_of_nobody_says_so() -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("changepassword", "nobody@example.org")


def test_deleting_a_google_only_account_accepts_any_spelling_of_its_address() -> None:
    user = User.objects.create_user(OWNER, None, email_verified_at=timezone.now())
    client = Client()
    client.force_login(user)

    response = client.post(
        "/accounts/settings/delete/", {"confirm_email": "TIM.victim@example.org"}
    )

    assert response.status_code == 302
    assert not User.objects.exists()
