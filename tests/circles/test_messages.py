"""Event messages and reminders through the notification log (locmem email and SMS)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from circles import services, times
from circles.models import RSVP, Circle, Membership
from circles.reminders import queue_reminders
from notifications import delivery, sms
from notifications.models import Notification, SmsOptOut
from notifications.services import may_send
from tests.circles.conftest import join, make_meeting, make_verified
from tests.conftest import committed, make_user

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    mail.outbox.clear()
    sms.outbox.clear()


def texting(user: User, phone: str = "+14155550123") -> User:
    """He has a verified number and turned every text on."""
    user.phone, user.phone_verified_at = phone, timezone.now()
    user.sms_reminders = user.sms_updates = user.sms_broadcasts = True
    user.save()
    return user


# --- Event messages ---------------------------------------------------------------------


def test_a_join_request_tells_the_facilitator_after_commit(
    circle: Circle, facilitator: User
) -> None:
    dan = make_verified("dan@example.com", full_name="Dan Newman")

    with committed():
        services.membership_request(circle=circle, user=dan, agreement_version=1)
        assert mail.outbox == []  # nothing leaves before the commit

    to_facilitator = [m for m in mail.outbox if m.to == [facilitator.email]]
    assert [m.subject for m in to_facilitator] == ["Dan N. asks to join Brooklyn Tuesday"]
    # He is told his request is sent (see test_join_requests.py), and nobody else is written to.
    assert sorted(m.to[0] for m in mail.outbox) == ["dan@example.com", facilitator.email]
    assert Notification.objects.get(kind="join_request").status == "sent"


def test_approval_decline_waitlist_and_offer_each_tell_the_member(circle: Circle) -> None:
    circle.capacity = 2
    circle.save()
    first, second, third = (make_verified(f"{n}@example.com") for n in ("a", "b", "c"))
    texting(third)
    with committed():
        m1 = services.membership_request(circle=circle, user=first, agreement_version=1)
        m2 = services.membership_request(circle=circle, user=second, agreement_version=1)
        m3 = services.membership_request(circle=circle, user=third, agreement_version=1)
        services.membership_approve(membership=m1)
        services.membership_decline(membership=m2)  # frees a seat: offered to the third

    kinds = {(n.user.email, n.kind, n.channel) for n in Notification.objects.all()}
    assert ("a@example.com", "membership_approved", "email") in kinds
    assert ("b@example.com", "membership_declined", "email") in kinds
    assert ("c@example.com", "membership_waitlisted", "email") in kinds
    assert ("c@example.com", "seat_offered", "email") in kinds
    assert ("c@example.com", "seat_offered", "sms") in kinds
    assert [t.to for t in sms.outbox] == ["+14155550123"]
    assert m3.pk


def test_a_cancelled_meeting_tells_members_by_email_and_text(
    circle: Circle, circle_member: User
) -> None:
    texting(circle_member)
    meeting = make_meeting(circle, in_days=2)

    with committed():
        services.meeting_cancel(meeting=meeting, reason="Snowed in")

    assert [m.to for m in mail.outbox] == [[circle_member.email]]
    assert "Cancelled: Brooklyn Tuesday" in mail.outbox[0].subject
    assert "Snowed in" in sms.outbox[0].body


def test_new_agreements_tell_active_members(circle: Circle, circle_member: User) -> None:
    with committed():
        services.agreement_publish(circle=circle, text="Phones off.")

    assert [m.to for m in mail.outbox] == [[circle_member.email]]
    assert "Phones off." in mail.outbox[0].body


def test_the_same_event_is_queued_once(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle, in_days=2)
    from circles import messages

    with committed():
        messages.meeting_cancelled(meeting)
        messages.meeting_cancelled(meeting)

    assert Notification.objects.filter(kind="meeting_cancelled").count() == 1
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_sends_nothing(circle: Circle, facilitator: User) -> None:
    from django.db import transaction

    dan = make_verified("dan@example.com")
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        services.membership_request(circle=circle, user=dan, agreement_version=1)
        raise RuntimeError("the page failed after the change")

    assert mail.outbox == []
    assert not Notification.objects.exists()


# --- Who may get messages ------------------------------------------------------------------


def test_unverified_members_get_only_account_messages() -> None:
    unverified = texting(make_user("new@example.com"))

    assert may_send(unverified, "verify_email", "email")
    assert may_send(unverified, "password_reset", "email")
    for kind in ("reminder_24h", "meeting_cancelled", "broadcast"):
        assert not may_send(unverified, kind, "email")
        assert not may_send(unverified, kind, "sms")


def test_opted_out_numbers_and_preferences_are_respected(circle_member: User) -> None:
    texting(circle_member)
    assert may_send(circle_member, "reminder_2h", "sms")

    SmsOptOut.objects.create(phone=circle_member.phone)
    assert not may_send(circle_member, "reminder_2h", "sms")

    circle_member.email_broadcasts = False
    assert not may_send(circle_member, "broadcast", "email")
    circle_member.is_active = False
    assert not may_send(circle_member, "verify_email", "email")


def test_a_stop_after_queuing_still_stops_the_text(circle: Circle, circle_member: User) -> None:
    texting(circle_member)
    meeting = make_meeting(circle, in_days=2)
    from circles import messages

    messages.meeting_cancelled(meeting)  # queued, not yet delivered
    SmsOptOut.objects.create(phone=circle_member.phone)
    delivery.deliver_due()

    assert sms.outbox == []
    assert Notification.objects.get(channel="sms").status == "skipped"


# --- Reminders ----------------------------------------------------------------------------


def test_reminders_go_by_email_a_day_before_and_by_text_two_hours_before(
    circle: Circle, circle_member: User
) -> None:
    texting(circle_member)
    tomorrow = make_meeting(circle, in_days=0.9)
    soon = make_meeting(circle, in_days=1 / 24)
    make_meeting(circle, in_days=3)  # too far off

    call_command("send_reminders")

    assert [m.to for m in mail.outbox] == [[circle_member.email]]
    assert f"/meetings/{tomorrow.pk}/" in mail.outbox[0].body
    assert [t.to for t in sms.outbox] == ["+14155550123"]
    assert "Reply YES" in sms.outbox[0].body
    assert Notification.objects.get(kind="reminder_2h").subject_key == f"meeting:{soon.pk}"


def test_reminders_skip_those_who_said_no_and_those_who_are_not_active(
    circle: Circle, circle_member: User
) -> None:
    meeting = make_meeting(circle, in_days=0.9)
    services.rsvp_set(meeting=meeting, user=circle_member, response="no", channel="web")
    waiting = make_verified("waiting@example.com")
    Membership.objects.create(circle=circle, user=waiting, status="waitlisted")
    left = make_verified("left@example.com")
    Membership.objects.create(circle=circle, user=left, status="left")
    keen = make_verified("keen@example.com")
    join(keen, circle)

    call_command("send_reminders")

    assert [m.to for m in mail.outbox] == [["keen@example.com"]]
    assert RSVP.objects.count() == 1


def test_send_reminders_twice_sends_each_reminder_once(
    circle: Circle, circle_member: User, capsys
) -> None:
    texting(circle_member)
    make_meeting(circle, in_days=0.9)
    make_meeting(circle, in_days=1 / 24)

    call_command("send_reminders")
    call_command("send_reminders")

    assert len(mail.outbox) == 1
    assert len(sms.outbox) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Reminders queued: 2. Delivered: 2 sent, 0 skipped, 0 failed")
    assert out[1].startswith("Reminders queued: 0. Delivered: 0 sent")


def test_reminders_show_the_time_in_the_members_time_zone(
    circle: Circle, circle_member: User
) -> None:
    circle_member.time_zone = "Europe/London"
    circle_member.save()
    # Online: he joins from London, so London's clock (an in-person meeting is in the venue's).
    circle.location_kind = Circle.LocationKind.ONLINE
    circle.save()
    starts = (timezone.now() + timedelta(hours=20)).replace(minute=0, second=0, microsecond=0)
    make_meeting(circle, in_days=0).__class__.objects.filter(circle=circle).update(
        starts_at=starts, ends_at=starts + timedelta(hours=1)
    )

    queue_reminders()

    body = Notification.objects.get(kind="reminder_24h").body
    local = timezone.localtime(starts, __import__("zoneinfo").ZoneInfo("Europe/London"))
    assert f"{times.clock(local)} your time (" in body
    assert "New York time)" in body


def test_delivering_a_message_twice_sends_it_once(circle: Circle, circle_member: User) -> None:
    from circles import messages

    messages.agreements_changed(services.agreement_publish(circle=circle, text="v2"))
    row = Notification.objects.get(kind="agreements_changed")

    first, second = delivery.deliver(row.pk), delivery.deliver(row.pk)

    assert (first.sent, second.sent) == (1, 0)
    assert len(mail.outbox) == 1
