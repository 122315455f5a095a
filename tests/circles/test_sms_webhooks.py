"""Twilio webhooks: inbound texts (RSVP, STOP/START, HELP) and delivery reports.

Requests are signed with Twilio's own RequestValidator, as Twilio would sign them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from accounts.models import User
from circles import messages, services, sms_replies
from circles.models import RSVP, Attendance, Circle, Meeting
from notifications import delivery, inbound, sms
from notifications.models import Notification, SmsOptOut
from tests.circles.conftest import join, make_circle, make_meeting
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")

TOKEN = "test-auth-token"
PHONE = "+14155550123"
INBOUND = "/webhooks/twilio/sms/"
STATUS = "/webhooks/twilio/status/"


@pytest.fixture(autouse=True)
def _twilio(settings) -> Iterator[None]:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    mail.outbox.clear()
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def signature(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post_signed(path: str, params: dict[str, str], *, url: str | None = None, **headers):
    """POST form data signed for `url` (by default the public URL of `path`)."""
    from django.conf import settings

    signed = signature(url or settings.SITE_URL + path, params)
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signed, **headers)


def text_in(phone: str, body: str):
    return post_signed(INBOUND, {"From": phone, "Body": body, "MessageSid": "SM-in-1"})


def reply_of(response) -> str:
    """The one message of a TwiML answer."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)  # noqa: S314  (our own answer)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Message"]
    return root[0].text or ""


def when(meeting: Meeting) -> str:
    return timezone.localtime(meeting.starts_at, meeting.circle.zone).strftime("%a %d %b %H:%M")


def texting(user: User) -> User:
    user.sms_updates = True
    user.save(update_fields=["sms_updates"])
    return user


def nothing_recorded() -> None:
    assert not RSVP.objects.exists()
    assert not SmsOptOut.objects.exists()


@pytest.fixture
def meetings(circle: Circle, circle_member: User) -> dict[str, Meeting]:
    """His next meeting among decoys: a later one, a past, a cancelled, another circle's."""
    elsewhere = make_circle(name="Queens Thursday", slug="queens-thursday")
    return {
        "elsewhere": make_meeting(elsewhere, in_days=0.5),
        "past": make_meeting(circle, in_days=-1),
        "started": make_meeting(circle, in_days=-0.02),  # under way, ends within the hour
        "cancelled": make_meeting(circle, in_days=1, status=Meeting.Status.CANCELLED),
        "next": make_meeting(circle, in_days=2),
        "later": make_meeting(circle, in_days=9),
    }


# --- RSVP by text -------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["YES", "yes", " Yes! ", "1", "y", "Yes please."])
def test_yes_answers_for_his_next_meeting_only(
    body: str, circle_member: User, meetings: dict[str, Meeting]
) -> None:
    response = text_in(PHONE, body)

    assert reply_of(response) == sms_replies.SAID_YES.format(when=when(meetings["next"]))
    rsvp = RSVP.objects.get()
    assert (rsvp.meeting, rsvp.user, rsvp.response, rsvp.channel) == (
        meetings["next"],
        circle_member,
        "yes",
        "sms",
    )


@pytest.mark.parametrize("body", ["NO", "no", "2", "n", "No."])
def test_no_answers_for_his_next_meeting_and_excuses_the_absence(
    body: str, circle: Circle, circle_member: User, facilitator: User, meetings
) -> None:
    response = text_in(PHONE, body)

    assert reply_of(response) == sms_replies.SAID_NO.format(when=when(meetings["next"]))
    rsvp = RSVP.objects.get()
    assert (rsvp.meeting, rsvp.user, rsvp.response, rsvp.channel) == (
        meetings["next"],
        circle_member,
        "no",
        "sms",
    )
    services.attendance_prefill(meeting=meetings["next"])
    statuses = dict(meetings["next"].attendance.values_list("user_id", "status"))
    assert statuses == {
        circle_member.pk: Attendance.Status.EXCUSED,
        facilitator.pk: Attendance.Status.UNEXCUSED,
    }


def test_answering_twice_updates_the_one_rsvp(circle_member: User, meetings) -> None:
    reply_of(text_in(PHONE, "YES"))
    first = RSVP.objects.get()

    reply_of(text_in(PHONE, "NO"))

    rsvp = RSVP.objects.get()
    assert rsvp.pk == first.pk
    assert (rsvp.meeting, rsvp.response, rsvp.channel) == (meetings["next"], "no", "sms")
    assert rsvp.responded_at >= first.responded_at


def test_a_member_with_no_upcoming_meeting_is_told_so(circle: Circle, circle_member: User) -> None:
    make_meeting(circle, in_days=-2)
    make_meeting(circle, in_days=3, status=Meeting.Status.CANCELLED)

    assert reply_of(text_in(PHONE, "YES")) == sms_replies.NO_MEETING
    assert not RSVP.objects.exists()


def test_a_member_who_has_not_accepted_new_agreements_cannot_rsvp(
    circle: Circle, circle_member: User, meetings
) -> None:
    services.agreement_publish(circle=circle, text="Phones off, always.")

    assert reply_of(text_in(PHONE, "YES")) == services.NEEDS_ACCEPTANCE
    assert not RSVP.objects.exists()

    services.agreement_accept(user=circle_member, circle=circle, version=2)
    assert reply_of(text_in(PHONE, "YES")) == sms_replies.SAID_YES.format(
        when=when(meetings["next"])
    )
    assert RSVP.objects.get().response == "yes"


@pytest.mark.parametrize("body", ["HELP", "help", "Info", "maybe", "what time is it?"])
def test_help_or_anything_else_from_a_member_gets_the_help_text(
    body: str, circle_member: User, meetings
) -> None:
    assert reply_of(text_in(PHONE, body)) == inbound.help_text()
    nothing_recorded()


# --- Unknown senders ----------------------------------------------------------------------


@pytest.mark.parametrize("body", ["YES", "NO", "HELP", "hello", ""])
def test_an_unknown_number_gets_the_same_answer_whatever_it_says(
    body: str, settings, circle_member: User, meetings
) -> None:
    reply = reply_of(text_in("+12125550199", body))

    assert reply == inbound.UNKNOWN.format(site=settings.SITE_URL)
    assert circle_member.email not in reply and "Ben" not in reply
    nothing_recorded()


def test_an_unverified_user_with_the_number_is_a_stranger(settings, circle: Circle) -> None:
    unverified = make_user("una@example.com", phone="+12125550111")
    join(unverified, circle)
    services.agreement_accept(user=unverified, circle=circle, version=1)
    make_meeting(circle, in_days=2)

    assert reply_of(text_in("+12125550111", "YES")) == inbound.UNKNOWN.format(
        site=settings.SITE_URL
    )
    nothing_recorded()


def test_an_inactive_user_with_the_number_is_a_stranger(
    settings, circle_member: User, meetings
) -> None:
    circle_member.is_active = False
    circle_member.save(update_fields=["is_active"])

    assert reply_of(text_in(PHONE, "YES")) == inbound.UNKNOWN.format(site=settings.SITE_URL)
    nothing_recorded()


@pytest.mark.parametrize("params", [{"From": PHONE}, {"From": PHONE, "Body": "  "}])
def test_an_empty_text_from_a_member_gets_the_help_text(
    params: dict[str, str], circle_member: User, meetings
) -> None:
    assert reply_of(post_signed(INBOUND, params)) == inbound.help_text()
    nothing_recorded()


@pytest.mark.parametrize("params", [{}, {"Body": ""}, {"From": "", "Body": ""}])
def test_a_text_without_sender_or_body_gets_an_answer_not_an_error(
    params: dict[str, str], circle_member: User, meetings
) -> None:
    assert reply_of(post_signed(INBOUND, params)) != ""
    nothing_recorded()


def test_a_text_without_a_sender_rsvps_for_nobody(
    settings, circle: Circle, facilitator: User, meetings
) -> None:
    # The facilitator has no phone on file: an empty From must not be him.
    assert facilitator.phone == ""
    services.agreement_accept(user=facilitator, circle=circle, version=1)

    reply = reply_of(post_signed(INBOUND, {"Body": "YES"}))

    assert reply == inbound.UNKNOWN.format(site=settings.SITE_URL)
    nothing_recorded()


# --- STOP and START -------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["STOP", "stop", "UNSUBSCRIBE", " Stop. "])
def test_stop_opts_the_number_out_and_no_text_goes_to_it(
    body: str, circle_member: User, meetings
) -> None:
    texting(circle_member)

    assert reply_of(text_in(PHONE, body)) == inbound.STOPPED
    assert list(SmsOptOut.objects.values_list("phone", flat=True)) == [PHONE]
    assert not RSVP.objects.exists()

    messages.meeting_cancelled(meetings["next"])
    delivery.deliver_due()

    assert sms.outbox == []
    assert [m.to for m in mail.outbox] == [[circle_member.email]]  # email is not a text


def test_stop_twice_keeps_one_opt_out(circle_member: User) -> None:
    reply_of(text_in(PHONE, "STOP"))
    reply_of(text_in(PHONE, "STOP"))

    assert SmsOptOut.objects.filter(phone=PHONE).count() == 1


def test_stop_after_a_text_was_queued_still_stops_it(circle_member: User, meetings) -> None:
    texting(circle_member)
    messages.meeting_cancelled(meetings["next"])

    reply_of(text_in(PHONE, "STOP"))
    delivery.deliver_due()

    assert sms.outbox == []
    assert Notification.objects.get(channel="sms").status == "skipped"


def test_start_lets_texts_flow_again(circle_member: User, meetings) -> None:
    texting(circle_member)
    reply_of(text_in(PHONE, "STOP"))

    assert reply_of(text_in(PHONE, "START")) == inbound.STARTED
    assert not SmsOptOut.objects.exists()

    messages.meeting_cancelled(meetings["next"])
    delivery.deliver_due()

    assert [t.to for t in sms.outbox] == [PHONE]
    assert Notification.objects.get(channel="sms").status == "sent"


# --- Signatures -----------------------------------------------------------------------------


INBOUND_PARAMS = {"From": PHONE, "Body": "YES"}
STATUS_PARAMS = {"MessageSid": "locmem-x", "MessageStatus": "delivered"}


@pytest.fixture(params=[(INBOUND, INBOUND_PARAMS), (STATUS, STATUS_PARAMS)], ids=["sms", "status"])
def webhook(request) -> tuple[str, dict[str, str]]:
    return request.param


def assert_refused(response) -> None:
    assert response.status_code == 403
    nothing_recorded()


def test_a_correct_signature_is_accepted_on_both_webhooks(
    webhook, circle_member: User, meetings
) -> None:
    path, params = webhook

    assert post_signed(path, params).status_code in (200, 204)


def test_a_bad_signature_is_refused(webhook, circle_member: User, meetings) -> None:
    path, params = webhook

    assert_refused(Client().post(path, params, HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl"))


def test_a_missing_signature_is_refused(webhook, circle_member: User, meetings) -> None:
    path, params = webhook

    assert_refused(Client().post(path, params))


def test_a_signature_made_with_another_token_is_refused(
    webhook, settings, circle_member: User, meetings
) -> None:
    path, params = webhook
    forged = signature(settings.SITE_URL + path, params, token="someone-elses-token")

    assert_refused(Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=forged))


def test_a_signature_for_another_url_is_refused(
    webhook, settings, circle_member: User, meetings
) -> None:
    path, params = webhook
    other = STATUS if path == INBOUND else INBOUND

    assert_refused(post_signed(path, params, url=settings.SITE_URL + other))
    assert_refused(post_signed(path, params, url="http://testserver" + path))
    assert_refused(post_signed(path, params, url=settings.SITE_URL + path + "?x=1"))


def test_a_signature_for_other_params_is_refused(
    webhook, settings, circle_member: User, meetings
) -> None:
    path, params = webhook
    tampered = {key: value + "0" for key, value in params.items()}
    signed = signature(settings.SITE_URL + path, params)

    assert_refused(Client().post(path, tampered, HTTP_X_TWILIO_SIGNATURE=signed))
    assert_refused(Client().post(path, {**params, "Extra": "1"}, HTTP_X_TWILIO_SIGNATURE=signed))


def test_nothing_is_valid_without_an_auth_token(
    webhook, settings, circle_member: User, meetings
) -> None:
    path, params = webhook
    signed_with_empty = signature(settings.SITE_URL + path, params, token="")
    settings.TWILIO_AUTH_TOKEN = ""

    assert_refused(post_signed(path, params))
    assert_refused(Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signed_with_empty))


def test_stop_with_a_bad_signature_opts_nobody_out(circle_member: User) -> None:
    assert_refused(Client().post(INBOUND, {"From": PHONE, "Body": "STOP"}))


def test_the_signature_covers_the_public_site_url_and_query(
    settings, circle_member: User, meetings
) -> None:
    settings.SITE_URL = "https://circles.example.org"

    response = post_signed(INBOUND + "?attempt=2", INBOUND_PARAMS)

    assert reply_of(response).startswith("Thanks!")
    assert RSVP.objects.get().response == "yes"


def test_get_is_not_allowed_on_either_webhook(webhook, settings) -> None:
    path, params = webhook
    signed = signature(settings.SITE_URL + path, {})

    assert Client().get(path, HTTP_X_TWILIO_SIGNATURE=signed).status_code == 405
    assert Client().get(path, params).status_code == 405


# --- Delivery reports -----------------------------------------------------------------------


@pytest.fixture
def sent_text(circle_member: User, meetings) -> Notification:
    """A text really sent through the locmem backend, with its provider id."""
    texting(circle_member)
    messages.meeting_cancelled(meetings["next"])
    delivery.deliver_due()
    row = Notification.objects.get(channel="sms")
    assert row.status == "sent"
    assert row.provider_id == sms.outbox[0].id
    return row


def report(provider_id: str, status: str):
    return post_signed(STATUS, {"MessageSid": provider_id, "MessageStatus": status})


def statuses() -> dict[int, str]:
    return dict(Notification.objects.values_list("pk", "status"))


def test_the_status_callback_is_this_webhook(settings, sent_text: Notification) -> None:
    assert sms.outbox[0].status_callback == settings.SITE_URL + STATUS


def test_delivered_marks_the_text_delivered(sent_text: Notification) -> None:
    response = report(sent_text.provider_id, "delivered")

    assert response.status_code == 204
    assert response.content == b""
    sent_text.refresh_from_db()
    assert sent_text.status == "delivered"


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_failed_or_undelivered_marks_the_text_failed_for_good(
    status: str, sent_text: Notification
) -> None:
    assert report(sent_text.provider_id, status).status_code == 204

    sent_text.refresh_from_db()
    assert sent_text.status == "failed_permanent"


@pytest.mark.parametrize("status", ["sent", "queued", "sending", "accepted"])
def test_interim_statuses_change_nothing(status: str, sent_text: Notification) -> None:
    before = statuses()

    assert report(sent_text.provider_id, status).status_code == 204

    assert statuses() == before


def test_a_late_interim_status_does_not_undo_delivered(sent_text: Notification) -> None:
    report(sent_text.provider_id, "delivered")
    report(sent_text.provider_id, "sent")

    sent_text.refresh_from_db()
    assert sent_text.status == "delivered"


@pytest.mark.parametrize("status", ["delivered", "failed"])
def test_an_unknown_sid_changes_nothing(status: str, sent_text: Notification) -> None:
    before = statuses()

    assert report("SM-unknown", status).status_code == 204

    assert statuses() == before


def test_a_report_without_a_sid_changes_nothing(sent_text: Notification) -> None:
    # The cancellation email was sent too; email rows carry no provider id.
    assert Notification.objects.get(channel="email").provider_id == ""
    before = statuses()

    response = post_signed(STATUS, {"MessageStatus": "failed"})

    assert response.status_code == 204
    assert statuses() == before
