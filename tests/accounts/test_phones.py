"""Verified phone numbers: a code texted to the number, typed back on the site.

Through the pages, by persona; the code's life (10 minutes, 5 tries, limited
resends); where it is not (any database); and one account per verified number.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.utils import timezone

from accounts import phones, throttle
from accounts.forms import PHONE_CODE_FORMAT, PHONE_UNVERIFIED_FOR_SMS
from accounts.models import PhoneChallenge, User
from accounts.services import AccountError
from notifications import delivery, sms
from notifications.models import Notification, SmsOptOut
from notifications.transport import TransportError
from tests.conftest import committed, make_user, signed_in
from tests.fakes import twilio
from tests.secrets_scan import database_text

pytestmark = pytest.mark.django_db(databases="__all__")

twilio_fake = twilio.twilio_fake

PHONE = "+14155550123"
OTHER_PHONE = "+14155550177"
# How the settings page shows them to a man in the US (tests/accounts/test_phone_formats.py).
PHONE_SHOWN = "(415) 555-0123"
OTHER_PHONE_SHOWN = "(415) 555-0177"
SETTINGS = "/accounts/settings/"
SEND = "/accounts/settings/phone/send/"
VERIFY = "/accounts/settings/phone/verify/"
PROFILE = {"full_name": "Bob Member", "phone": PHONE, "time_zone": "UTC"}


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def with_phone(user: User, phone: str = PHONE) -> User:
    """A member with a verified email and an unverified mobile number."""
    user.email_verified_at = timezone.now()
    user.phone = phone
    user.save()
    return user


@pytest.fixture
def bob(member: User) -> User:
    return with_phone(member)


def code_in(text: str) -> str:
    return re.search(r"code is (\d{6})\b", text)[1]


def ask_for_code(client: Client, to: str = PHONE) -> str:
    """Press "send me a code" and read the code off the text it sends."""
    sent = len(sms.outbox)
    with committed():
        response = client.post(SEND)
    assert response.status_code == 302
    assert response["Location"] == VERIFY, [str(m) for m in response.wsgi_request._messages]
    [text] = sms.outbox[sent:]
    assert text.to == to
    return code_in(text.body)


def type_code(client: Client, code: str):
    return client.post(VERIFY, {"code": code})


def error_of(response) -> str:
    assert response.status_code == 200
    return " ".join(response.context["form"].errors["code"])


def verified(user: User) -> bool:
    user.refresh_from_db()
    return bool(user.verified_phone)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# --- Access, by persona ------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_nothing_happens(client: Client, bob: User) -> None:
    for response in (client.post(SEND), client.get(VERIFY), client.post(VERIFY, {"code": "1"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert not PhoneChallenge.objects.exists()
    assert sms.outbox == []


def test_asking_for_a_code_is_a_post(bob: User) -> None:
    assert signed_in(bob).get(SEND).status_code == 405
    assert not PhoneChallenge.objects.exists()


@pytest.mark.parametrize("persona", ["member", "staff", "superuser"])
def test_every_signed_in_person_verifies_his_own_number_through_the_pages(
    request, persona: str
) -> None:
    user = with_phone(request.getfixturevalue(persona))
    client = signed_in(user)
    assert "is not verified" in client.get(SETTINGS).content.decode()

    code = ask_for_code(client)
    waiting = client.get(SETTINGS).content.decode()
    page = client.get(VERIFY).content.decode()
    response = type_code(client, code)

    assert "Enter the code we texted you" in waiting and "Send me a new code" in waiting

    assert f"We texted a 6-digit code to <strong>{PHONE}</strong>" in page
    assert response.status_code == 302 and response["Location"] == SETTINGS
    assert verified(user)
    assert not PhoneChallenge.objects.exists()  # spent
    settings_page = client.get(SETTINGS).content.decode()
    assert f"<strong>{PHONE_SHOWN}</strong> is verified" in settings_page
    assert "Send me a code" not in settings_page


def test_an_outsider_cannot_use_a_code_sent_to_another_account(bob: User, outsider: User) -> None:
    code = ask_for_code(signed_in(bob))
    with_phone(outsider, OTHER_PHONE)

    response = type_code(signed_in(outsider), code)

    assert phones.PHONE_NO_CODE in error_of(response)
    assert not verified(bob) and not verified(outsider)


def test_the_code_page_without_a_number_or_once_verified_leads_back_to_settings(
    bob: User,
) -> None:
    nobody = make_user("nophone@example.com")
    assert signed_in(nobody).get(VERIFY)["Location"] == SETTINGS
    client = signed_in(bob)
    type_code(client, ask_for_code(client))
    assert client.get(VERIFY)["Location"] == SETTINGS


# --- Who may ask -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda u: User.objects.filter(pk=u.pk).update(phone=""), phones.PHONE_NONE),
        (
            lambda u: User.objects.filter(pk=u.pk).update(email_verified_at=None),
            phones.PHONE_NEEDS_EMAIL,
        ),
        (lambda u: SmsOptOut.objects.create(phone=PHONE), phones.PHONE_OPTED_OUT),
        (
            lambda u: User.objects.filter(pk=u.pk).update(phone="+19002345678"),
            phones.PHONE_NOT_TEXTABLE,
        ),
        (
            lambda u: User.objects.filter(pk=u.pk).update(phone_verified_at=timezone.now()),
            phones.PHONE_ALREADY,
        ),
    ],
    ids=["no number", "email not verified", "number said STOP", "premium rate", "verified"],
)
def test_no_code_is_sent_when_it_cannot_or_need_not_be(bob: User, setup, message: str) -> None:
    setup(bob)

    with committed():
        response = signed_in(bob).post(SEND, follow=True)

    assert message in response.content.decode()
    assert not PhoneChallenge.objects.exists()
    assert sms.outbox == []


# --- The code: never at rest ---------------------------------------------------------------


def test_the_code_goes_to_twilio_only_and_rests_in_no_database(bob: User, twilio_fake) -> None:
    client = signed_in(bob)
    client.post(SEND)  # queued; delivered below, as the worker would
    row = Notification.objects.get(user=bob, kind="phone_code")
    waiting = [database_text("default"), database_text("creds")]

    delivery.deliver_due()

    [text] = twilio_fake.messages
    assert text["to"] == PHONE
    code = code_in(text["body"])
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert "{link:code}" in row.body and code not in row.body
    challenge = PhoneChallenge.objects.get(user_id=bob.pk)
    assert code not in challenge.code_hash
    # Anywhere as a number of its own (not inside a hash, a timestamp or a phone number).
    alone = re.compile(rf"(?<![0-9A-Za-z.+]){code}(?![0-9A-Za-z])")
    assert alone.search(text["body"])  # the search finds it where it is
    for dump in [*waiting, database_text("default"), database_text("creds")]:
        assert not alone.search(dump)
    assert type_code(client, code).status_code == 302
    assert verified(bob)


def test_the_code_is_minted_from_the_queued_row_and_a_stray_row_mints_nothing(bob: User) -> None:
    with committed():
        challenge = phones.phone_code_send(user=bob, client="127.0.0.1")
    row = Notification.objects.get(user=bob, kind="phone_code")

    assert phones.code_for_message(row) == phones.code_for(challenge.pk, PHONE)
    assert code_in(sms.outbox[-1].body) == phones.code_for(challenge.pk, PHONE)
    row.subject_key = "phone-code:not-a-uuid"
    with pytest.raises(TransportError) as error:
        phones.code_for_message(row)
    assert error.value.permanent


def test_codes_are_six_digits_and_differ_by_challenge_and_number() -> None:
    codes = {phones.code_for(f"00000000-0000-0000-0000-{n:012d}", PHONE) for n in range(200)}

    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(codes) >= 195
    some = "00000000-0000-0000-0000-000000000001"
    assert phones.code_for(some, PHONE) != phones.code_for(some, OTHER_PHONE)


# --- Ten minutes, five tries ---------------------------------------------------------------------


def test_a_code_works_for_ten_minutes(bob: User) -> None:
    client = signed_in(bob)
    code = ask_for_code(client)
    challenge = PhoneChallenge.objects.get()
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)

    PhoneChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = type_code(client, code)

    assert phones.PHONE_CODE_EXPIRED in error_of(response)
    assert not verified(bob)


def test_five_wrong_tries_spend_the_code(bob: User) -> None:
    client = signed_in(bob)
    code = ask_for_code(client)

    errors = [error_of(type_code(client, wrong(code))) for _ in range(5)]
    last = error_of(type_code(client, code))

    assert [e for e in errors[:4]] == [phones.PHONE_CODE_WRONG.format(left=n) for n in (4, 3, 2, 1)]
    assert errors[4] == phones.PHONE_CODE_USED_UP
    assert last == phones.PHONE_CODE_USED_UP
    assert not verified(bob)
    # A new code works again.
    assert type_code(client, ask_for_code(client)).status_code == 302
    assert verified(bob)


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5x"])
def test_a_malformed_code_is_refused_and_not_counted(bob: User, typed: str) -> None:
    client = signed_in(bob)
    ask_for_code(client)

    response = type_code(client, typed)

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["code"])
    assert PHONE_CODE_FORMAT in errors or "required" in errors
    assert PhoneChallenge.objects.get().tries == 0


@pytest.mark.parametrize("typed", ["{} {}", "{}-{}", " {}{} "])
def test_a_code_typed_with_spaces_or_a_dash_works(bob: User, typed: str) -> None:
    client = signed_in(bob)
    code = ask_for_code(client)

    assert type_code(client, typed.format(code[:3], code[3:])).status_code == 302
    assert verified(bob)


def test_a_code_for_the_old_number_does_not_verify_a_new_one(bob: User) -> None:
    client = signed_in(bob)
    code = ask_for_code(client)
    client.post(SETTINGS, {**PROFILE, "phone": OTHER_PHONE})

    response = type_code(client, code)

    assert phones.PHONE_NO_CODE in error_of(response)
    assert not verified(bob)


# --- Resending, limited ------------------------------------------------------------------


def test_a_new_code_replaces_the_old_one(bob: User) -> None:
    client = signed_in(bob)
    first = ask_for_code(client)
    second = ask_for_code(client)
    if first == second:  # one in a million
        second = ask_for_code(client)

    assert PhoneChallenge.objects.count() == 1
    assert phones.PHONE_CODE_WRONG.format(left=4) in error_of(type_code(client, first))
    assert type_code(client, second).status_code == 302


def test_an_account_may_ask_three_times_in_fifteen_minutes(bob: User) -> None:
    client = signed_in(bob)
    for _ in range(3):
        ask_for_code(client)

    with committed():
        response = client.post(SEND, follow=True)

    assert "Too many codes asked for. Please try again in 15 minutes." in (
        response.content.decode()
    )
    assert len(sms.outbox) == 3


def test_a_number_gets_at_most_five_codes_an_hour_whoever_asks(bob: User, outsider: User) -> None:
    for _ in range(3):
        ask_for_code(signed_in(bob))
    other = signed_in(with_phone(outsider))
    for _ in range(2):
        ask_for_code(other)

    with committed():
        response = other.post(SEND, follow=True)

    assert "Too many codes asked for." in response.content.decode()
    assert len(sms.outbox) == 5


def test_a_number_gets_at_most_ten_codes_a_day(bob: User, outsider: User) -> None:
    other = with_phone(outsider)
    for _ in range(2):  # two hours' worth
        for man in (bob, bob, bob, other, other):
            with committed():
                phones.phone_code_send(user=man, client="127.0.0.1")
        throttle.clear(phones.SENDS_PER_NUMBER, PHONE)  # the hour is over
        for man in (bob, other):
            throttle.clear(phones.SENDS_PER_ACCOUNT, str(man.pk))

    with pytest.raises(AccountError, match="Too many codes"):
        phones.phone_code_send(user=bob, client="127.0.0.2")
    assert len(sms.outbox) == 10


def test_one_client_gets_at_most_ten_codes_an_hour(db: None) -> None:
    men = [
        with_phone(make_user(f"man{n}@example.com"), f"+1415555{n:04d}") for n in range(100, 104)
    ]
    for man in men:
        client = signed_in(man)
        for _ in range(3):
            with committed():
                client.post(SEND)

    assert len(sms.outbox) == 10


# --- What a changed or unverified number may do -------------------------------------------------


def test_changing_the_number_in_settings_unverifies_it(bob: User) -> None:
    client = signed_in(bob)
    type_code(client, ask_for_code(client))
    assert verified(bob)

    client.post(SETTINGS, {**PROFILE, "display_name": "Bobby"})  # same number
    assert verified(bob)
    response = client.post(SETTINGS, {**PROFILE, "phone": OTHER_PHONE}, follow=True)

    bob.refresh_from_db()
    assert bob.phone == OTHER_PHONE and bob.phone_verified_at is None
    assert f"<strong>{OTHER_PHONE_SHOWN}</strong> is not verified" in response.content.decode()


def test_a_number_changed_anywhere_else_is_unverified_too(bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(phone_verified_at=timezone.now())
    user = User.objects.get(pk=bob.pk)

    user.full_name = "Renamed"
    user.save(update_fields=["full_name"])
    assert verified(user)
    user.phone = OTHER_PHONE  # the admin, a shell
    user.save()
    assert not verified(user)
    user.phone, user.phone_verified_at = PHONE, timezone.now()  # number and proof together
    user.save()
    assert verified(user)


def test_a_text_preference_needs_a_verified_number(bob: User) -> None:
    client = signed_in(bob)
    before = User.objects.filter(pk=bob.pk).values().get()

    response = client.post(SETTINGS, {**PROFILE, "sms_reminders": "on"})

    assert PHONE_UNVERIFIED_FOR_SMS in " ".join(response.context["form"].errors["phone"])
    after = User.objects.filter(pk=bob.pk).values().get()
    after.pop("last_login"), before.pop("last_login")
    assert after == before
    # The page shows the number as saved, not what the refused form held.
    assert f"<strong>{PHONE_SHOWN}</strong> is not verified" in response.content.decode()

    type_code(client, ask_for_code(client))
    response = client.post(SETTINGS, {**PROFILE, "sms_reminders": "on"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.wants("reminders", "sms")
    # A new number with texts on, in one go: refused, the old one stays verified.
    response = client.post(SETTINGS, {**PROFILE, "phone": OTHER_PHONE, "sms_updates": "on"})
    assert PHONE_UNVERIFIED_FOR_SMS in " ".join(response.context["form"].errors["phone"])
    assert verified(bob) and bob.phone == PHONE


def test_a_choice_made_before_verification_stays_but_sends_nothing(bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(sms_reminders=True)  # from before numbers were proved
    bob.refresh_from_db()

    response = signed_in(bob).post(SETTINGS, {**PROFILE, "sms_reminders": "on"})

    assert response.status_code == 302  # his other settings can still be saved
    bob.refresh_from_db()
    assert bob.sms_reminders and not bob.wants("reminders", "sms")


# --- One account per verified number -------------------------------------------------------


def test_the_database_refuses_a_second_account_on_a_verified_number(
    bob: User, outsider: User
) -> None:
    now = timezone.now()
    User.objects.filter(pk=bob.pk).update(phone_verified_at=now)
    with_phone(outsider)  # the same number, unverified: allowed

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=outsider.pk).update(phone_verified_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=bob.pk).update(phone="")  # a proof without a number


def test_the_newer_proof_wins_and_the_other_account_is_told(bob: User, outsider: User) -> None:
    type_code(signed_in(bob), ask_for_code(signed_in(bob)))
    newcomer = signed_in(with_phone(outsider))

    code = ask_for_code(newcomer)
    mail.outbox.clear()
    with committed():
        response = type_code(newcomer, code)

    assert response.status_code == 302
    assert verified(outsider) and not verified(bob)
    [email] = mail.outbox
    assert email.to == [bob.email]
    assert email.subject == "Your mobile number is no longer verified on Men's Circle"
    assert "ending in 23" in email.body and PHONE not in email.body
    assert outsider.email not in email.body  # nothing about who
    page = signed_in(bob).get(SETTINGS).content.decode()
    assert f"<strong>{PHONE_SHOWN}</strong> is not verified" in page


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_two_accounts_proving_one_number_at_once_end_with_one_owner() -> None:
    first = with_phone(make_user("first@example.com"))
    second = with_phone(make_user("second@example.com"))
    codes = {}
    for man in (first, second):
        challenge = phones.phone_code_send(user=man, client=f"client-{man.pk}")
        codes[man.pk] = phones.code_for(challenge.pk, PHONE)
    first_claimed, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def prove(man: User, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                phones.phone_verify(user=man, code=codes[man.pk])
                if hold:  # keep the first proof uncommitted while the second runs
                    first_claimed.set()
                    release.wait(10)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    one = threading.Thread(target=prove, args=(first,), kwargs={"hold": True})
    one.start()
    assert first_claimed.wait(10)
    two = threading.Thread(target=prove, args=(second,), kwargs={"hold": False})
    two.start()
    two.join(1.0)
    assert two.is_alive()  # waits on the first one's lock, rather than failing
    release.set()
    one.join(10)
    two.join(10)

    assert errors == []
    assert not verified(first) and verified(second)
    assert User.objects.filter(phone=PHONE, phone_verified_at__isnull=False).count() == 1
    assert Notification.objects.filter(user=first, kind="phone_taken").exists()


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_parallel_guesses_get_five_checks_in_all() -> None:
    man = with_phone(make_user("guess@example.com"))
    challenge = phones.phone_code_send(user=man, client="127.0.0.1")
    right = phones.code_for(challenge.pk, PHONE)
    answers: list[str] = []
    start = threading.Barrier(12)

    def guess() -> None:
        start.wait(10)
        try:
            phones.phone_verify(user=User.objects.get(pk=man.pk), code=wrong(right))
        except AccountError as error:
            answers.append(error.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    checked = [a for a in answers if a.startswith("That is not the code")]
    assert len(answers) == 12
    assert len(checked) <= 5
    assert PhoneChallenge.objects.get().tries == 5
    with pytest.raises(AccountError, match="Too many wrong tries"):
        phones.phone_verify(user=man, code=right)


# --- Housekeeping -------------------------------------------------------------------------------


def test_expired_codes_are_purged_and_a_deleted_account_takes_its_code(
    bob: User, outsider: User
) -> None:
    ask_for_code(signed_in(bob))
    ask_for_code(signed_in(with_phone(outsider, OTHER_PHONE)), to=OTHER_PHONE)
    PhoneChallenge.objects.filter(user_id=bob.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    call_command("purge_expired_credentials")
    assert list(PhoneChallenge.objects.values_list("user_id", flat=True)) == [outsider.pk]
    outsider.delete()
    assert not PhoneChallenge.objects.exists()
