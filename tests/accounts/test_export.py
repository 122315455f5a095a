"""'Download my data': every app's sections, no secret, his data only, in bounded queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.utils import timezone
from djstripe.models import Customer, Invoice, PaymentMethod

from accounts import phones, two_factor
from accounts import services as accounts
from accounts.exports import NOT_KEPT
from accounts.models import (
    Credential,
    GoogleIdentity,
    PhoneChallenge,
    RecoveryCode,
    RevokedToken,
    TOTPDevice,
    User,
)
from billing import services as billing
from billing.models import DuesTier, Scholarship
from circles import services as circles
from circles.admin_views import NOTE_SHOWN_TO_MEMBER
from circles.models import RSVP, Attendance, CalendarFeed, FacilitatorNote, Meeting, Membership
from events.models import Answer
from notifications.delivery import bodies_purge, deliver_due
from notifications.models import Notification
from notifications.services import notify, sms_opt_out
from tests.billing.conftest import deliver
from tests.circles.conftest import join, make_circle, make_facilitator, make_meeting, make_verified
from tests.conftest import (
    PASSWORD,
    capture_all_queries,
    give_authenticator,
    make_user,
    signed_in,
)
from tests.events.conftest import add_question, make_event, register_directly
from tests.fakes import stripe as stripe_module

pytestmark = pytest.mark.django_db(databases="__all__")

stripe_fake = stripe_module.stripe_fake

EXPORT_URL = "/accounts/settings/export/"
PHONE = "+14155550123"
NOTE_ABOUT_HIM = "Quiet tonight; ask him about his father next week."
NOTE_ABOUT_ANOTHER = "Oscar talked about his divorce."
SCHOLARSHIP_REASON = "I lost my job in March."


@dataclass
class Everything:
    """A member with data in every app, and what was made for him."""

    man: User
    facilitator: User
    other: User
    treasurer: User
    feed_token: str
    recovery_codes: list[str]
    stripe_customer: str
    subscription: str


def get_export(client: Client) -> dict:
    response = client.get(EXPORT_URL)
    assert response.status_code == 200
    return json.loads(response.content)


def pay_by_stripe(man: User, tier: DuesTier, fake) -> tuple[str, str]:
    """Checkout on /billing/, Stripe's webhooks, and his card synced: (customer, subscription)."""
    response = signed_in(man).post(f"/billing/checkout/{tier.pk}/")
    assert response.status_code == 302, response
    events = fake.complete_checkout(response["Location"].rsplit("/", 1)[1])
    assert [r.status_code for r in deliver(Client(), fake, events)] == [200, 200, 200]
    subscription = events[1]["data"]["object"]
    # What `djstripe_sync_models Customer PaymentMethod` brings in: Stripe's
    # copy of him (name, address) and his card.
    key = settings.STRIPE_SECRET_KEY
    Customer.sync_from_stripe_data(fake.get(subscription["customer"]), api_key=key)
    method = fake.get(subscription["default_payment_method"])
    PaymentMethod.sync_from_stripe_data(method, api_key=key)
    return subscription["customer"], subscription["id"]


def build_everything(tier: DuesTier, fake) -> Everything:
    man = make_verified(
        "ben@example.com", full_name="Ben Member", phone=PHONE, display_name="Benny"
    )
    man.time_zone = "Europe/Berlin"
    man.sms_reminders = True
    man.email_broadcasts = False
    man.save(update_fields=["time_zone", "sms_reminders", "email_broadcasts"])

    # Circles: asked and approved (with the agreements), co-facilitating another,
    # left a third, waiting with a seat offer on a fourth.
    circle = make_circle(name="Brooklyn Tuesday")
    circles.agreement_publish(circle=circle, text="What is said here stays here.")
    facilitator = make_facilitator("fred@example.com", circle)
    membership = circles.membership_request(
        circle=circle,
        user=man,
        agreement_version=1,
        introduction="New in town; my brother told me about circles.",
    )
    circles.membership_approve(membership=membership)
    # Approved a month ago: his attendance counts (and is exported) from then on.
    Membership.objects.filter(pk=membership.pk).update(
        share_email=True, joined_at=timezone.now() - timedelta(days=30)
    )
    led = make_circle(name="Harbour Thursday")
    join(man, led, role=Membership.Role.CO_FACILITATOR)
    other = make_verified("oscar@example.com", full_name="Oscar Other")
    join(other, led)
    left = make_circle(name="Old Mill")
    now = timezone.now()
    Membership.objects.create(
        circle=left,
        user=man,
        status=Membership.Status.LEFT,
        requested_at=now - timedelta(days=90),
        joined_at=now - timedelta(days=88),
        left_at=now - timedelta(days=20),
    )
    waiting = make_circle(name="River Sunday")
    Membership.objects.create(
        circle=waiting,
        user=man,
        status=Membership.Status.WAITLISTED,
        offer_expires_at=now + timedelta(hours=48),
    )

    # Meetings: an RSVP by text, attendance and a meeting he led.
    upcoming = make_meeting(circle, in_days=3)
    circles.rsvp_set(meeting=upcoming, user=man, response="yes", channel=RSVP.Channel.SMS)
    past = make_meeting(circle, in_days=-7, status=Meeting.Status.HELD, leader=man)
    Attendance.objects.create(meeting=past, user=man, status=Attendance.Status.PRESENT)

    # Notes: one about him, one he wrote about another man, one about someone else.
    FacilitatorNote.objects.create(
        author_id=facilitator.pk, member_id=man.pk, circle_id=circle.pk, text=NOTE_ABOUT_HIM
    )
    FacilitatorNote.objects.create(
        author_id=man.pk, member_id=other.pk, circle_id=led.pk, text=NOTE_ABOUT_ANOTHER
    )
    FacilitatorNote.objects.create(
        author_id=facilitator.pk, member_id=other.pk, circle_id=circle.pk, text="Not about Ben."
    )

    # Messages: the ones so far sent, then emptied by the retention job; one
    # with a minted link still waiting, its body kept.
    deliver_due()
    bodies_purge(older_than=timezone.now() + timedelta(minutes=1))
    notify(user=man, kind="password_reset", subject_key="reset:1")

    # Dues: Stripe, a scholarship asked and approved, a payment in cash.
    stripe_customer, subscription = pay_by_stripe(man, tier, fake)
    treasurer = make_user("tess@example.com", full_name="Tess Treasurer", is_staff=True)
    scholarship = billing.scholarship_request(
        user=man, kind=Scholarship.Kind.REDUCED, reason=SCHOLARSHIP_REASON
    )
    billing.scholarship_decide(
        scholarship=scholarship,
        by=treasurer,
        approve=True,
        until=timezone.localdate() + timedelta(days=180),
    )
    billing.offline_payment_record(
        user=man,
        by=treasurer,
        amount_cents=4500,
        method="cash",
        covers_from=timezone.localdate() - timedelta(days=60),
        covers_until=timezone.localdate() - timedelta(days=30),
        note="Paid at the January meeting",
    )

    # Events: registered for a retreat, with an answer to its organisers' question.
    retreat = make_event(title="Weekend retreat")
    question = add_question(retreat, "Dietary needs")
    registration = register_directly(retreat, man)
    Answer.objects.create(registration=registration, question=question, value="Vegetarian")

    # Accounts: Google, two-factor with recovery codes, a revoked API token, a feed.
    GoogleIdentity.objects.create(user_id=man.pk, sub="google-sub-42", email="ben@gmail.com")
    give_authenticator(man)
    recovery_codes = two_factor.recovery_codes_make(user=man)
    RevokedToken.objects.create(jti="jti-1", user_id=man.pk, expires_at=now + timedelta(days=1))
    feed_token = circles.calendar_feed_create(user=man)
    # And a new address he asked to move to, waiting for its link.
    accounts.email_change_request(user=man, new_email="ben@example.net")
    return Everything(
        man=man,
        facilitator=facilitator,
        other=other,
        treasurer=treasurer,
        feed_token=feed_token,
        recovery_codes=recovery_codes,
        stripe_customer=stripe_customer,
        subscription=subscription,
    )


@pytest.fixture
def tier(stripe_fake) -> DuesTier:
    price = stripe_fake.add_price(1500, nickname="Standard monthly")
    return DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id=price["id"])


@pytest.fixture
def everything(tier: DuesTier, stripe_fake) -> Everything:
    return build_everything(tier, stripe_fake)


SECTIONS = [
    # accounts
    "profile",
    "preferences",
    "credentials",
    "email_change",
    "messages",
    # circles
    "memberships",
    "agreements_accepted",
    "rsvps",
    "attendance",
    "meetings_led",
    "facilitation",
    "facilitator_notes",
    "calendar_feed",
    # billing
    "dues",
    "invoices",
    "scholarships",
    "offline_payments",
    # events
    "event_registrations",
]


def by_circle(rows: list[dict]) -> dict[str, dict]:
    return {row["circle"]: row for row in rows}


def test_the_export_holds_every_section_for_a_member_with_data_in_every_app(
    everything: Everything,
) -> None:
    man = everything.man
    data = get_export(signed_in(man))

    assert list(data) == ["schema_version", "exported_at", *SECTIONS]
    assert data["schema_version"] == 2
    for name in SECTIONS:
        assert data[name], f"section {name} is empty"

    assert data["email_change"]["new_email"] == "ben@example.net"
    assert data["email_change"]["requested_at"]
    profile = data["profile"]
    assert profile["email"] == "ben@example.com"
    assert profile["full_name"] == "Ben Member"
    assert profile["display_name"] == "Benny"
    assert profile["email_verified_at"] == man.email_verified_at.isoformat()
    assert profile["phone"] == PHONE
    assert profile["phone_verified"] is True
    assert profile["phone_verified_at"] == man.phone_verified_at.isoformat()
    assert profile["phone_code_waiting"] is None
    assert profile["phone_texts_stopped"] is False

    assert data["preferences"] == {
        "time_zone": "Europe/Berlin",
        "messages": {
            "reminders": {"email": True, "sms": True},
            "updates": {"email": True, "sms": False},
            "broadcasts": {"email": False, "sms": False},
        },
    }

    credentials = data["credentials"]
    assert credentials["password_set"] is True
    assert credentials["linked_identities"] == [
        {
            "provider": "google",
            "subject": "google-sub-42",
            "email": "ben@gmail.com",
            "linked_at": GoogleIdentity.objects.get(user_id=man.pk).linked_at.isoformat(),
        }
    ]
    assert len(credentials["active_sessions"]) >= 1
    assert credentials["revoked_api_tokens"] == 1
    assert credentials["two_factor"]["on"] is True
    assert credentials["two_factor"]["recovery_codes_left"] == two_factor.RECOVERY_CODES

    messages = data["messages"]
    assert len(messages) == Notification.objects.filter(user=man).count()
    approved = next(m for m in messages if m["kind"] == "membership_approved")
    assert approved["channel"] == "email"
    assert approved["status"] == "sent"
    assert approved["sent_at"] is not None
    assert approved["subject"] is None and approved["body"] is None  # past retention
    reset = next(m for m in messages if m["kind"] == "password_reset")
    assert reset["status"] == "pending"
    assert reset["subject"]
    assert NOT_KEPT.format(label="link") in reset["body"]
    assert "{link:" not in json.dumps(messages)

    memberships = by_circle(data["memberships"])
    assert set(memberships) == {"Brooklyn Tuesday", "Harbour Thursday", "Old Mill", "River Sunday"}
    brooklyn = memberships["Brooklyn Tuesday"]
    assert (brooklyn["role"], brooklyn["status"]) == ("member", "active")
    assert brooklyn["requested_at"] and brooklyn["decided_at"] and brooklyn["joined_at"]
    assert brooklyn["shares_email_with_circle"] is True
    assert brooklyn["shares_phone_with_circle"] is False
    # What he wrote only for the facilitators is his, too.
    assert brooklyn["introduction"] == "New in town; my brother told me about circles."
    assert memberships["Old Mill"]["introduction"] == ""
    assert memberships["Old Mill"]["left_at"] is not None
    assert memberships["River Sunday"]["status"] == "waitlisted"
    assert memberships["River Sunday"]["seat_offer_until"] is not None
    assert memberships["Harbour Thursday"]["role"] == "co_facilitator"

    assert data["agreements_accepted"] == [
        {
            "circle": "Brooklyn Tuesday",
            "version": 1,
            "accepted_at": data["agreements_accepted"][0]["accepted_at"],
            "text": "What is said here stays here.",
        }
    ]
    [rsvp] = data["rsvps"]
    assert (rsvp["circle"], rsvp["answer"], rsvp["channel"]) == ("Brooklyn Tuesday", "yes", "sms")
    assert rsvp["meeting_starts_at"] and rsvp["answered_at"]
    [attended] = data["attendance"]
    assert (attended["circle"], attended["status"]) == ("Brooklyn Tuesday", "present")
    [led] = data["meetings_led"]
    assert (led["circle"], led["status"]) == ("Brooklyn Tuesday", "held")
    assert data["facilitation"] == {
        "roles": [{"circle": "Harbour Thursday", "role": "co_facilitator", "status": "active"}],
        "private_notes_written": 1,
    }
    [note] = data["facilitator_notes"]
    assert note["circle"] == "Brooklyn Tuesday"
    assert note["text"] == NOTE_ABOUT_HIM
    assert note["by"] == "Fred F."  # as the site names facilitators to anyone
    assert note["written_at"]
    feed = CalendarFeed.objects.get(user_id=man.pk)
    assert data["calendar_feed"] == {"exists": True, "created_at": feed.created_at.isoformat()}

    dues = data["dues"]
    assert dues["status"] == "active"
    [customer] = dues["stripe_customers"]
    assert customer["stripe_id"] == everything.stripe_customer
    assert customer["email"] == "ben@example.com"
    assert customer["name"] == "Ben Member"
    [subscription] = dues["subscriptions"]
    assert subscription["stripe_id"] == everything.subscription
    assert subscription["tier"] == "Standard"
    assert (subscription["amount_cents"], subscription["currency"]) == (1500, "usd")
    assert subscription["status"] == "active"
    assert subscription["current_period_ends_at"]
    [card] = dues["payment_methods"]
    assert (card["type"], card["card_brand"], card["card_last4"]) == ("card", "visa", "4242")
    [invoice] = data["invoices"]
    assert invoice["date"]
    assert (invoice["amount_due_cents"], invoice["currency"], invoice["status"]) == (
        1500,
        "usd",
        "paid",
    )
    [scholarship] = data["scholarships"]
    assert scholarship["kind"] == "reduced"
    assert scholarship["reason"] == SCHOLARSHIP_REASON
    assert scholarship["status"] == "approved"
    assert scholarship["until"] and scholarship["decided_at"]
    [payment] = data["offline_payments"]
    assert payment["amount_cents"] == 4500
    assert (payment["currency"], payment["method"]) == ("usd", "cash")
    assert payment["note"] == "Paid at the January meeting"
    assert payment["recorded_at"] and payment["covers_from"] and payment["covers_until"]
    [registration] = data["event_registrations"]
    assert registration["event"] == "Weekend retreat"
    assert registration["answers"] == [
        {"question": "Dietary needs", "kind": "dietary", "answer": "Vegetarian"}
    ]


def test_a_member_with_no_history_gets_every_section_empty(member: User) -> None:
    data = get_export(signed_in(member))

    assert list(data) == ["schema_version", "exported_at", *SECTIONS]
    assert data["memberships"] == [] and data["invoices"] == [] and data["messages"] == []
    assert data["email_change"] is None
    assert data["calendar_feed"] == {"exists": False, "created_at": None}
    assert data["credentials"]["linked_identities"] == []
    assert data["dues"]["status"] == "none"
    assert data["profile"]["phone_verified"] is False


def test_a_waiting_phone_code_and_a_stopped_number_are_in_the_export(member: User) -> None:
    member.email_verified_at = timezone.now()
    member.phone = PHONE
    member.save(update_fields=["email_verified_at", "phone"])
    challenge = phones.phone_code_send(user=member, client="192.0.2.1")
    code = phones.code_for(challenge.id, PHONE)

    client = signed_in(member)
    data = get_export(client)

    waiting = data["profile"]["phone_code_waiting"]
    assert waiting["phone"] == PHONE
    assert waiting["expires_at"] == challenge.expires_at.isoformat()
    assert data["profile"]["phone_verified"] is False
    [text] = [m for m in data["messages"] if m["kind"] == "phone_code"]
    assert text["channel"] == "sms"
    assert NOT_KEPT.format(label="code") in text["body"]
    assert code not in client.get(EXPORT_URL).content.decode()

    sms_opt_out(phone=PHONE)
    assert get_export(client)["profile"]["phone_texts_stopped"] is True


def test_the_export_holds_no_secret(everything: Everything, settings) -> None:
    man = everything.man
    other_device = signed_in(man)
    # A phone code waiting for a new number, too.
    man.phone = "+14155550199"
    man.save(update_fields=["phone"])
    challenge = phones.phone_code_send(user=man, client="192.0.2.1")
    client = signed_in(man)

    response = client.get(EXPORT_URL)
    text = response.content.decode()

    device = TOTPDevice.objects.get(user_id=man.pk)
    secrets = {
        "password hash": Credential.objects.get(user_id=man.pk).password_hash,
        "TOTP key": device.key,
        "TOTP key (base32)": two_factor.base32_key(device),
        "session key": client.session.session_key,
        "other session key": other_device.session.session_key,
        "feed token": everything.feed_token,
        "feed token hash": CalendarFeed.objects.get(user_id=man.pk).token_hash,
        "phone code": phones.code_for(challenge.id, man.phone),
        "phone code hash": PhoneChallenge.objects.get(user_id=man.pk).code_hash,
        "phone challenge id": str(challenge.id),
        "refresh token id": "jti-1",
        "Stripe secret key": settings.STRIPE_SECRET_KEY,
        "Stripe webhook secret": settings.STRIPE_WEBHOOK_SECRET,
    }
    for n, code in enumerate(everything.recovery_codes):
        secrets[f"recovery code {n}"] = code
    for n, code_hash in enumerate(
        RecoveryCode.objects.filter(user_id=man.pk).values_list("code_hash", flat=True)
    ):
        secrets[f"recovery code hash {n}"] = code_hash
    found = [name for name, secret in secrets.items() if secret and secret in text]
    assert found == []
    assert secrets["password hash"].split("$")[-1] not in text
    # Minted links (verification, reset) and an invoice's pay-by-link page neither.
    assert "/accounts/verify/" not in text
    assert "/accounts/reset/" not in text
    hosted = Invoice.objects.get(customer__subscriber=man).stripe_data["hosted_invoice_url"]
    assert hosted
    assert hosted not in text


def test_facilitators_notes_about_him_are_his_and_his_notes_about_others_are_not(
    everything: Everything,
) -> None:
    his = signed_in(everything.man).get(EXPORT_URL).content.decode()
    facilitators = signed_in(everything.facilitator).get(EXPORT_URL).content.decode()
    others = signed_in(everything.other).get(EXPORT_URL).content.decode()

    assert NOTE_ABOUT_HIM in his
    assert NOTE_ABOUT_ANOTHER not in his  # he wrote it, about Oscar
    assert "Not about Ben." not in his
    # The author keeps his working notes in the admin; they are not his data.
    assert NOTE_ABOUT_HIM not in facilitators
    assert json.loads(facilitators)["facilitation"]["private_notes_written"] == 2
    # The man a note is about reads it, whoever wrote it.
    assert NOTE_ABOUT_ANOTHER in others
    assert "Not about Ben." in others
    assert NOTE_ABOUT_HIM not in others


def test_the_note_form_tells_the_facilitator_the_member_can_read_it(
    everything: Everything,
) -> None:
    page = signed_in(everything.facilitator).get("/admin/circles/facilitatornote/add/")

    assert page.status_code == 200
    # The admin shows help texts as they are (they are ours, not input).
    assert NOTE_SHOWN_TO_MEMBER in page.content.decode()


# --- Who gets what -----------------------------------------------------------------------


def test_the_export_needs_sign_in(client: Client) -> None:
    response = client.get(EXPORT_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_export_waits_for_the_second_factor(member: User) -> None:
    give_authenticator(member)
    client = Client()
    client.post("/accounts/login/", {"username": member.email, "password": PASSWORD})

    response = client.get(EXPORT_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/verify/")


def test_the_settings_page_offers_the_download(member: User) -> None:
    page = signed_in(member).get("/accounts/settings/").content.decode()

    assert f'href="{EXPORT_URL}"' in page


def test_the_export_is_a_download_nobody_keeps(member: User) -> None:
    response = signed_in(member).get(EXPORT_URL)

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="mens-circle-my-data.json"'
    assert response["Cache-Control"] == "no-store"


def test_the_export_is_read_with_a_get_only(member: User) -> None:
    assert signed_in(member).post(EXPORT_URL).status_code == 405


@pytest.mark.parametrize("persona", ["man", "facilitator", "other", "treasurer", "superuser"])
def test_each_person_gets_only_his_own_data(request, everything: Everything, persona: str) -> None:
    people = {
        "man": everything.man,
        "facilitator": everything.facilitator,
        "other": everything.other,
        "treasurer": everything.treasurer,
        "superuser": request.getfixturevalue("superuser"),
    }
    me = people[persona]
    client = signed_in(me)

    # Nothing in the request chooses whose data it is.
    for query in ("", f"?user={everything.man.pk}", f"?user_id={everything.man.pk}"):
        response = client.get(EXPORT_URL + query)
        data = json.loads(response.content)
        text = response.content.decode()
        assert data["profile"]["email"] == me.email
        assert len(data["messages"]) == Notification.objects.filter(user=me).count()
        assert len(data["memberships"]) == Membership.objects.filter(user=me).count()
        for someone in people.values():
            if someone != me:
                assert someone.email not in text
        if me != everything.man:
            for his in (PHONE, SCHOLARSHIP_REASON, "google-sub-42", everything.stripe_customer):
                assert his not in text


# --- Bounded ------------------------------------------------------------------------------


def export_queries(client: Client) -> dict[str, int]:
    with capture_all_queries() as queries:
        assert client.get(EXPORT_URL).status_code == 200
    return {alias: len(captured) for alias, captured in queries.items()}


def add_history(everything: Everything, fake, *, times: int) -> None:
    """Years more of it: circles, meetings, messages, notes, invoices, payments."""
    man, facilitator = everything.man, everything.facilitator
    circle = Membership.objects.get(user=man, circle__name="Brooklyn Tuesday").circle
    for n in range(times):
        extra = make_circle(name=f"Extra {n}")
        join(man, extra, role=Membership.Role.FACILITATOR if n % 2 else Membership.Role.MEMBER)
        meeting = make_meeting(extra, in_days=-30 - n, status=Meeting.Status.HELD, leader=man)
        RSVP.objects.create(meeting=meeting, user=man, response="no")
        Attendance.objects.create(meeting=meeting, user=man, status=Attendance.Status.EXCUSED)
        FacilitatorNote.objects.create(
            author_id=facilitator.pk, member_id=man.pk, circle_id=extra.pk, text=f"Note {n}"
        )
        FacilitatorNote.objects.create(
            author_id=man.pk, member_id=everything.other.pk, circle_id=circle.pk, text="x"
        )
        notify(user=man, kind="password_reset", subject_key=f"reset:extra:{n}")
        Scholarship.objects.create(
            user=man, kind="waived", reason=f"Reason {n}", status=Scholarship.Status.DECLINED
        )
        billing.offline_payment_record(
            user=man,
            by=everything.treasurer,
            amount_cents=1000 + n,
            method="cheque",
            covers_from=timezone.localdate(),
            covers_until=timezone.localdate(),
        )
    for _ in range(3):
        deliver(Client(), fake, fake.renew_subscription(everything.subscription))


def test_the_export_takes_the_same_queries_for_a_short_and_a_long_history(
    everything: Everything, stripe_fake
) -> None:
    client = signed_in(everything.man)
    short = export_queries(client)

    add_history(everything, stripe_fake, times=25)
    long = export_queries(client)

    data = get_export(client)
    assert len(data["memberships"]) == 4 + 25
    assert len(data["facilitator_notes"]) == 1 + 25
    assert len(data["invoices"]) == 1 + 3
    assert len(data["offline_payments"]) == 1 + 25
    assert long == short
    assert sum(short.values()) <= 45, short


# --- Nothing forgotten ------------------------------------------------------------------------

# Every model that holds a row about a member (a foreign key to the user, or
# a plain user id in `creds`), and where the export shows it. A new model must
# be added here: to a section, or with the reason it is left out.
COVERED = {
    "accounts.user": "profile, preferences",
    "accounts.credential": "credentials.password_set/password_changed_at",
    "accounts.googleidentity": "credentials.linked_identities",
    "accounts.revokedtoken": "credentials.revoked_api_tokens",
    "accounts.phonechallenge": "profile.phone_code_waiting",
    "accounts.session": "credentials.active_sessions",
    "accounts.totpdevice": "credentials.two_factor",
    "accounts.recoverycode": "credentials.two_factor.recovery_codes_left",
    "accounts.emailchange": "email_change",
    "notifications.notification": "messages",
    "circles.membership": "memberships, facilitation",
    "circles.agreementacceptance": "agreements_accepted",
    "circles.rsvp": "rsvps",
    "circles.attendance": "attendance",
    "circles.meeting": "meetings_led",
    "circles.calendarfeed": "calendar_feed",
    "circles.facilitatornote": "facilitator_notes (about him); facilitation (how many he wrote)",
    "billing.scholarship": "scholarships (decided_by: the treasurer, not exported)",
    "billing.offlinepayment": "offline_payments (recorded_by: the treasurer, not exported)",
    "events.registration": "event_registrations (with his answers)",
    "djstripe.customer": "dues.stripe_customers (and through it subscriptions, invoices, cards)",
    "admin.logentry": "left out: staff's record of their admin work on others' rows",
}
PLAIN_USER_IDS = {"user_id", "member_id", "author_id"}


def test_every_model_about_a_member_is_in_the_export_or_left_out_on_purpose() -> None:
    user_model = get_user_model()
    about_people = set()
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if model_field.auto_created and not model_field.concrete:
                continue  # a reverse relation
            refers = (
                isinstance(model_field, models.ForeignKey | models.OneToOneField)
                and model_field.related_model is user_model
            ) or (
                isinstance(model_field, models.BigIntegerField)
                and model_field.name in PLAIN_USER_IDS
            )
            if refers or model is user_model:
                about_people.add(model._meta.label_lower)

    assert about_people == set(COVERED)
