"""Changing one's email address: a link to the new address, a notice to the old one.

The member asks from his settings (with his password); a link goes to the
new address; opening it, signed in as that account, moves the account there,
verifies the new address, signs out his other sessions and tells the old
address. A taken address (in any spelling) gets the same answer as a free
one: its owner is told, the asker gets no link.
"""

# ruff: noqa: RUF001, RUF003  (look-alike letters are the point of some of these tests)

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services, throttle
from accounts.canonical import email_key
from accounts.models import EmailChange, Session, User
from accounts.tokens import password_reset_token
from notifications.models import Notification
from tests.conftest import PASSWORD, committed, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/accounts/settings/email/"
NEW = "robert.new@example.net"
LINK = re.compile(r"https?://[^/\s]+(/accounts/email/confirm/[^/\s]+/)")


def drain(client: Client) -> None:
    """Show (and so forget) any message left for this browser: flashed() reads only new ones."""
    client.get("/")


def ask(client: Client, new_email: str = NEW, password: str = PASSWORD):
    """POST the request page; delivers what it queued."""
    drain(client)
    mail.outbox.clear()
    with committed():
        return client.post(URL, {"new_email": new_email, "password": password})


def flashed(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def link_sent_to(address: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [address]]
    return LINK.search(message.body)[1]


def confirm(client: Client, link: str):
    drain(client)
    mail.outbox.clear()
    with committed():
        return client.post(link)


def is_signed_in(client: Client) -> bool:
    return client.get("/accounts/settings/").status_code == 200


# --- The whole way, by persona -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_a_member_moves_his_account_to_a_new_address(request, persona: str) -> None:
    user: User = request.getfixturevalue(persona)
    old = user.email
    client = signed_in(user)

    response = ask(client)

    assert response.status_code == 302
    assert flashed(response) == [services.EMAIL_CHANGE_SENT.format(email=NEW, current=old)]
    assert [m.to for m in mail.outbox] == [[NEW]]  # the link, to the new address only
    link = link_sent_to(NEW)
    assert User.objects.get(pk=user.pk).email == old  # nothing changes before the link
    assert NEW in client.get("/accounts/settings/").content.decode()  # shown as waiting

    page = client.get(link)  # shows what would change, changes nothing
    assert page.status_code == 200
    assert NEW in page.content.decode() and old in page.content.decode()
    assert User.objects.get(pk=user.pk).email == old

    response = confirm(client, link)

    assert flashed(response) == [services.EMAIL_CHANGE_DONE.format(email=NEW)]
    after = User.objects.get(pk=user.pk)
    assert (after.email, after.email_key) == (NEW, email_key(NEW))
    assert after.is_verified  # the link proved the new mailbox
    assert after.credentials_changed_at > user.credentials_changed_at
    assert User.objects.with_email(NEW).get() == after
    assert not User.objects.with_email(old).exists()
    assert not EmailChange.objects.exists()
    [notice] = mail.outbox
    assert notice.to == [old]  # the old address is told, once
    assert "r…@example.net" in notice.body and NEW not in notice.body
    assert is_signed_in(client)


def test_confirming_signs_out_every_other_session_and_api_token(member: User) -> None:
    here, elsewhere = signed_in(member), signed_in(member)
    tokens = (
        APIClient()
        .post("/api/v1/auth/token/", {"email": member.email, "password": PASSWORD}, format="json")
        .json()
    )
    reset_token = password_reset_token.make_token(member)
    ask(here)

    confirm(here, link_sent_to(NEW))

    assert Session.objects.filter(user_id=member.pk).count() == 1  # the others are deleted
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    me = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 401
    assert not password_reset_token.check_token(User.objects.get(pk=member.pk), reset_token)
    # He signs in with the new address (any spelling of it) and his password.
    assert Client().login(username="ROBERT.NEW@example.net", password=PASSWORD)
    assert not Client().login(username="bob@example.com", password=PASSWORD)


def test_messages_queued_after_the_change_go_to_the_new_address(member: User) -> None:
    client = signed_in(member)
    ask(client)
    confirm(client, link_sent_to(NEW))
    mail.outbox.clear()

    with committed():
        services.password_reset_send(user=User.objects.get(pk=member.pk))

    assert [m.to for m in mail.outbox] == [[NEW]]


def test_the_link_and_the_notice_go_where_they_were_addressed_when_queued(member: User) -> None:
    # The notice is queued for the old address in the confirming transaction;
    # delivered later, it still goes there, not to the member's address now.
    client = signed_in(member)
    ask(client)
    link = link_sent_to(NEW)
    client.post(link)  # no commit: nothing delivered yet

    notice = Notification.objects.get(user=member, kind="email_changed")
    assert notice.to_email == "bob@example.com"
    assert User.objects.get(pk=member.pk).email == NEW
    assert Notification.objects.get(user=member, kind="email_change").to_email == NEW


# --- Access control ------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_everywhere(client: Client, member: User) -> None:
    change = services.email_change_request(user=member, new_email=NEW)
    link = f"/accounts/email/confirm/{services.email_change_token(change)}/"

    for method, url in [
        (client.get, URL),
        (client.post, URL),
        (client.post, "/accounts/settings/email/cancel/"),
        (client.get, link),
        (client.post, link),
    ]:
        response = method(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert User.objects.get(pk=member.pk).email == "bob@example.com"


def test_a_link_opened_signed_out_asks_him_to_sign_in_then_comes_back(member: User) -> None:
    ask(signed_in(member))
    link = link_sent_to(NEW)
    phone = Client()  # his phone's mail app, not signed in

    to_sign_in = phone.get(link)
    signing_in = phone.post(
        to_sign_in["Location"], {"username": member.email, "password": PASSWORD}
    )

    assert signing_in["Location"] == link
    assert phone.get(link).status_code == 200
    confirm(phone, link)
    assert User.objects.get(pk=member.pk).email == NEW


def test_another_account_cannot_use_the_link(member: User, outsider: User) -> None:
    ask(signed_in(member))
    link = link_sent_to(NEW)
    stranger = signed_in(outsider)

    for method in (stranger.get, stranger.post):
        drain(stranger)
        response = method(link)
        assert response.status_code == 302
        assert flashed(response) == [services.EMAIL_CHANGE_OTHER_ACCOUNT]
    assert User.objects.get(pk=member.pk).email == "bob@example.com"
    assert User.objects.get(pk=outsider.pk).email == "charlie@example.com"


# --- Bad requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"new_email": NEW, "password": "wrong"}, "password", "That is not your password."),
        ({"new_email": "not an address", "password": PASSWORD}, "new_email", "valid email"),
        ({"new_email": "", "password": PASSWORD}, "new_email", "required"),
        ({"new_email": "bob@example.com", "password": PASSWORD}, "new_email", "already your"),
        ({"new_email": NEW}, "password", "required"),
    ],
)
def test_a_bad_request_says_why_and_sends_nothing(
    member: User, data: dict, field: str, message: str
) -> None:
    client = signed_in(member)

    with committed():
        response = client.post(URL, data)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert mail.outbox == []
    assert not EmailChange.objects.exists()
    assert not Notification.objects.filter(kind__startswith="email_change").exists()


def test_a_new_spelling_of_his_own_address_needs_the_link_too(member: User) -> None:
    # The same account to us, but maybe another mailbox: proved like any address.
    client = signed_in(member)

    ask(client, "Bob@example.com")
    confirm(client, link_sent_to("Bob@example.com"))

    assert User.objects.get(pk=member.pk).email == "Bob@example.com"


def test_requests_are_rate_limited(member: User) -> None:
    client = signed_in(member)
    for n in range(throttle.EMAIL_CHANGE.max):
        assert ask(client, f"new{n}@example.net").status_code == 302

    response = ask(client, "one.more@example.net")

    assert response.status_code == 200
    assert "Too many attempts. Try again in 60 minutes." in response.content.decode()
    assert mail.outbox == []
    assert EmailChange.objects.get(user=member).new_email == "new2@example.net"


def test_a_google_only_member_sets_a_password_first(member: User) -> None:
    member.set_unusable_password()
    member.save()
    client = Client()
    client.force_login(member)

    page = client.get(URL).content.decode()
    with committed():
        response = client.post(URL, {"new_email": NEW, "password": ""})

    assert "set a password" in page
    assert response.status_code == 200
    assert mail.outbox == [] and not EmailChange.objects.exists()


# --- The link: expired, forged, reused, replaced, stale --------------------------------------


class SignedTwoDaysAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() - timedelta(days=2).total_seconds()))


def refused(client: Client, link: str, message: str, member: User) -> None:
    drain(client)
    for response in (client.get(link), confirm(client, link)):  # confirm() drains first
        assert response.status_code == 302
        assert flashed(response) == [message]
    assert User.objects.get(pk=member.pk).email == "bob@example.com"
    assert not [m for m in mail.outbox if m.to == ["bob@example.com"]]  # no "changed" notice


def test_an_expired_link_is_refused(member: User) -> None:
    client = signed_in(member)
    ask(client)
    link = link_sent_to(NEW)
    EmailChange.objects.update(requested_at=timezone.now() - timedelta(hours=25))

    refused(client, link, services.EMAIL_CHANGE_EXPIRED, member)


def test_a_link_signed_more_than_a_day_ago_is_refused(member: User) -> None:
    client = signed_in(member)
    change = services.email_change_request(user=member, new_email=NEW)
    digest = services.email_change_token(change).split(":")[0]
    payload = signing.loads(services.email_change_token(change), salt=services.EMAIL_CHANGE_SALT)
    old_token = SignedTwoDaysAgo(salt=services.EMAIL_CHANGE_SALT).sign_object(payload)
    assert old_token.split(":")[0] == digest

    refused(client, f"/accounts/email/confirm/{old_token}/", services.EMAIL_CHANGE_EXPIRED, member)


def test_forged_links_are_refused(member: User, outsider: User) -> None:
    client = signed_in(member)
    change = services.email_change_request(user=member, new_email=NEW)
    other_address = signing.dumps(
        {"c": str(change.pk), "a": "0" * 20}, salt=services.EMAIL_CHANGE_SALT
    )
    no_such_request = signing.dumps({"c": "not-a-uuid"}, salt=services.EMAIL_CHANGE_SALT)
    a_list = signing.dumps(["c"], salt=services.EMAIL_CHANGE_SALT)
    other_salt = signing.dumps({"c": str(change.pk)}, salt=services.VERIFY_SALT)
    unsigned = services.email_change_token(change)[:-4] + "AAAA"

    for token in [other_address, no_such_request, a_list, other_salt, unsigned, "x", "a" * 300]:
        refused(client, f"/accounts/email/confirm/{token}/", services.EMAIL_CHANGE_INVALID, member)


def test_a_link_works_once(member: User) -> None:
    client = signed_in(member)
    ask(client)
    link = link_sent_to(NEW)
    confirm(client, link)
    client.get("/accounts/settings/")  # read the success message

    response = confirm(client, link)

    assert flashed(response) == [services.EMAIL_CHANGE_INVALID]
    assert mail.outbox == []  # no second notice


def test_a_newer_request_replaces_the_older_link(member: User) -> None:
    client = signed_in(member)
    ask(client, "first@example.net")
    first = link_sent_to("first@example.net")
    ask(client, "second@example.net")
    second = link_sent_to("second@example.net")

    refused(client, first, services.EMAIL_CHANGE_INVALID, member)
    confirm(client, second)
    assert User.objects.get(pk=member.pk).email == "second@example.net"


def test_a_password_change_since_the_request_voids_the_link(member: User) -> None:
    client = signed_in(member)
    ask(client)
    link = link_sent_to(NEW)
    services.password_set(user=User.objects.get(pk=member.pk), password="Another-long-river-77")
    client.login(username=member.email, password="Another-long-river-77")

    refused(client, link, services.EMAIL_CHANGE_INVALID, member)


def test_a_cancelled_request_voids_the_link(member: User) -> None:
    client = signed_in(member)
    ask(client)
    link = link_sent_to(NEW)
    drain(client)

    response = client.post("/accounts/settings/email/cancel/")

    assert flashed(response) == [services.EMAIL_CHANGE_CANCELLED.format(email="bob@example.com")]
    refused(client, link, services.EMAIL_CHANGE_INVALID, member)


def test_a_deactivated_account_cannot_confirm(member: User) -> None:
    change = services.email_change_request(user=member, new_email=NEW)
    User.objects.filter(pk=member.pk).update(is_active=False)

    with pytest.raises(services.AccountError, match="does not work"):
        services.email_change_confirm(change=change)
    assert User.objects.get(pk=member.pk).email == "bob@example.com"


# --- A taken address tells nobody who has it ------------------------------------------------

OWNER = "tim.victim@example.org"
LOOK_ALIKES = [
    OWNER,
    "TIM.victim@EXAMPLE.org",
    "tım.victim@example.org",  # dotless ı
    "tim.victim@ｅｘａｍｐｌｅ.org",  # fullwidth letters
]


def answer(client: Client, address: str) -> tuple[int, str, list[str]]:
    response = ask(client, address)
    return response.status_code, response["Location"], flashed(response)


@pytest.mark.parametrize("taken", LOOK_ALIKES)
def test_a_taken_address_gets_the_same_answer_and_no_link(member: User, taken: str) -> None:
    owner = make_user(OWNER, full_name="Tim Victim")
    client = signed_in(member)
    free = "tim.free@example.org"
    typed = User.objects.normalize_email(taken.strip())  # the domain in lower case

    assert answer(client, free) == (
        302,
        "/accounts/settings/",
        [services.EMAIL_CHANGE_SENT.format(email=free, current=member.email)],
    )
    as_free = mail.outbox[:]
    assert answer(client, taken) == (
        302,
        "/accounts/settings/",
        [services.EMAIL_CHANGE_SENT.format(email=typed, current=member.email)],
    )

    # The asker's settings show a request waiting, as for a free address.
    assert EmailChange.objects.get(user=member).new_email == typed
    # No link to the taken address; its owner hears of it (to his address as it is).
    assert [m.to for m in as_free] == [[free]]
    [notice] = mail.outbox
    assert notice.to == [owner.email]
    assert "Someone tried to move a Men's Circle account to your address" in notice.subject
    assert not LINK.search(notice.body)
    # Nothing anyone could open moves the account there.
    assert User.objects.get(pk=member.pk).email == "bob@example.com"
    assert User.objects.get(pk=owner.pk).email == OWNER


def test_the_owner_of_a_taken_address_is_told_once_a_day(member: User, outsider: User) -> None:
    owner = make_user(OWNER)
    ask(signed_in(member), OWNER)
    ask(signed_in(outsider), "TIM.victim@example.org")

    assert mail.outbox == []
    assert Notification.objects.filter(user=owner, kind="email_change_attempt").count() == 1


def test_an_address_taken_after_the_request_is_refused_at_confirmation(member: User) -> None:
    client = signed_in(member)
    ask(client, "tim.victim@example.org")
    link = link_sent_to("tim.victim@example.org")
    make_user("Tim.Victim@example.org")  # signed up (and so on) meanwhile

    response = confirm(client, link)

    assert flashed(response) == [services.EMAIL_CHANGE_TAKEN]
    assert User.objects.get(pk=member.pk).email == "bob@example.com"
    assert User.objects.with_email("tim.victim@example.org").count() == 1
    assert mail.outbox == []


# --- Verification follows the address -------------------------------------------------------


def test_an_unverified_account_is_verified_by_the_link(member: User) -> None:
    assert not member.is_verified
    client = signed_in(member)
    ask(client)

    confirm(client, link_sent_to(NEW))

    assert User.objects.get(pk=member.pk).is_verified


def test_an_address_changed_elsewhere_is_unverified_until_proved(
    superuser: User, member: User
) -> None:
    member.email_verified_at = timezone.now()
    member.save(update_fields=["email_verified_at"])

    response = signed_in(superuser).post(
        f"/admin/accounts/user/{member.pk}/change/",
        {"email": "robert@example.com", "full_name": member.full_name, "is_active": "on"},
    )

    assert response.status_code == 302
    after = User.objects.get(pk=member.pk)
    assert after.email == "robert@example.com"
    assert not after.is_verified
    # Saving anything else keeps the proof.
    after.email_verified_at = timezone.now()
    after.save()
    after.full_name = "Robert"
    after.save()
    assert User.objects.get(pk=member.pk).is_verified


# --- Kept no longer than needed ---------------------------------------------------------------


def test_expired_requests_are_purged_and_shown_no_more(member: User, outsider: User) -> None:
    from django.core.management import call_command

    services.email_change_request(user=member, new_email=NEW)
    services.email_change_request(user=outsider, new_email="charles@example.net")
    EmailChange.objects.filter(user=member).update(
        requested_at=timezone.now() - timedelta(hours=25)
    )
    assert "robert.new" not in signed_in(member).get("/accounts/settings/").content.decode()

    call_command("purge_expired_credentials", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert list(EmailChange.objects.values_list("user", flat=True)) == [outsider.pk]


def test_a_pending_request_is_in_his_export(member: User) -> None:
    services.email_change_request(user=member, new_email=NEW)

    data = signed_in(member).get("/accounts/settings/export/").json()

    assert data["email_change"]["new_email"] == NEW
