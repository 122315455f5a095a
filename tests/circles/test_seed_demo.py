from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.test import Client

from accounts.models import Credential, User
from billing.models import DuesTier
from circles.models import (
    RSVP,
    Agreement,
    AgreementAcceptance,
    Attendance,
    Circle,
    Meeting,
    Membership,
)
from demo.management.commands.seed_demo import (
    DEMO_ADMIN,
    DEMO_FACILITATOR,
    DEMO_MEMBER,
    DEMO_PASSWORD,
)

pytestmark = pytest.mark.django_db(databases="__all__")

MODELS = [
    DuesTier,
    User,
    Credential,
    Group,
    Circle,
    Membership,
    Agreement,
    AgreementAcceptance,
    Meeting,
    RSVP,
    Attendance,
]


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def debug(settings) -> None:
    settings.DEBUG = True


def test_seeding_twice_changes_nothing(debug: None) -> None:
    seed()
    first = row_counts()
    leaders = list(Meeting.objects.values_list("pk", "leader_id", "status"))

    output = seed()

    assert row_counts() == first
    assert list(Meeting.objects.values_list("pk", "leader_id", "status")) == leaders
    assert "(0 accounts, 0 circles, 0 meetings created)" in output


def test_demo_circles_look_like_real_ones(debug: None) -> None:
    seed()

    circles = list(Circle.objects.all())
    assert len(circles) == 4
    assert len({c.time_zone for c in circles}) == 4
    assert {c.frequency for c in circles} == {"weekly", "biweekly", "monthly"}
    assert {c.location_kind for c in circles} == {"in_person", "online", "hybrid"}
    assert [c.is_listed for c in circles].count(False) == 1
    facilitators = Group.objects.get(name="Facilitators").user_set.all()
    for circle in circles:
        active = circle.memberships.active()
        (facilitator,) = [m.user for m in active if m.role == Membership.Role.FACILITATOR]
        assert facilitator.is_staff and facilitator in facilitators
        assert 4 <= active.filter(role=Membership.Role.MEMBER).count() <= 8
        agreement = circle.agreements.get()
        assert agreement.version == 1
        assert "Confidentiality" in agreement.text
        accepted = set(agreement.acceptances.values_list("user_id", flat=True))
        assert set(active.values_list("user_id", flat=True)) <= accepted
        assert circle.meetings.filter(status=Meeting.Status.HELD).exists()
        upcoming = circle.meetings.upcoming()
        assert upcoming.exists()
        assert all(meeting.leader_id for meeting in upcoming)
    statuses = set(Membership.objects.values_list("status", flat=True))
    assert {"active", "requested", "waitlisted"} <= statuses
    assert set(Attendance.objects.values_list("status", flat=True)) == {
        "present",
        "excused",
        "unexcused",
    }
    assert RSVP.objects.filter(meeting__status=Meeting.Status.HELD).exists()
    assert Meeting.objects.filter(status=Meeting.Status.CANCELLED).exists()
    # Every held meeting has a line for each member, and a leader.
    held = Meeting.objects.filter(status=Meeting.Status.HELD).annotate(n=Count("attendance"))
    assert all(meeting.n >= 5 and meeting.leader_id for meeting in held)


def test_every_demo_account_is_verified_and_has_the_demo_password(debug: None) -> None:
    seed()

    users = list(User.objects.all())
    assert len(users) >= 25
    assert not User.objects.filter(email_verified_at__isnull=True).exists()
    assert all(user.check_password(DEMO_PASSWORD) for user in users)
    # Hashed once: the same hash for everyone, so seeding stays fast with bcrypt.
    assert Credential.objects.values("password_hash").distinct().count() == 1
    assert User.objects.filter(Q(is_superuser=True) | Q(is_staff=True)).count() == 5


def test_demo_men_with_a_number_have_verified_it(debug: None) -> None:
    seed()

    with_phone = User.objects.exclude(phone="")
    assert with_phone.filter(email=DEMO_MEMBER, sms_reminders=True).exists()
    assert with_phone.count() >= 3
    assert all(user.verified_phone == user.phone for user in with_phone)


def test_printed_demo_logins_sign_in(debug: None) -> None:
    output = seed()

    assert output.count(DEMO_PASSWORD) == 1
    for email in (DEMO_ADMIN, DEMO_FACILITATOR, DEMO_MEMBER):
        assert email in output
        response = Client().post("/accounts/login/", {"username": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email


def test_the_demo_member_and_facilitator_share_a_circle(debug: None) -> None:
    seed()

    member = Membership.objects.get(user__email=DEMO_MEMBER)
    facilitator = Membership.objects.get(user__email=DEMO_FACILITATOR)
    assert member.circle == facilitator.circle
    assert member.status == facilitator.status == Membership.Status.ACTIVE
    assert facilitator.role == Membership.Role.FACILITATOR


def test_seed_demo_refuses_with_debug_off(settings) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.exists()
    assert not Circle.objects.exists()


def test_seeding_sends_no_messages(settings) -> None:
    from django.core import mail

    from notifications import sms
    from notifications.models import Notification
    from tests.conftest import committed

    settings.DEBUG = True
    mail.outbox.clear()
    sms.outbox.clear()

    with committed():
        call_command("seed_demo", stdout=StringIO())

    assert mail.outbox == []
    assert sms.outbox == []
    assert not Notification.objects.exists()


# --- Something for every facilitator page, and a way in ---------------------------------


def test_the_demo_facilitator_has_a_drifting_member_a_waiting_request_and_a_waitlist(
    debug: None,
) -> None:
    from circles.admin_views import at_risk

    seed()

    circle = Circle.objects.get(memberships__user__email=DEMO_FACILITATOR)
    (report,) = at_risk(Circle.objects.filter(pk=circle.pk))
    assert "ben.carter@example.com" in [m.user.email for m in report.drifting]
    assert [m.user.email for m in report.waiting] == ["noah.bennett@example.com"]
    waitlist = circle.memberships.waitlist().values_list("user__email", flat=True)
    assert list(waitlist) == ["ravi.shah@example.com"]


def printed_code(output: str) -> str:
    """What a newcomer's authenticator app shows for the key seed_demo printed."""
    import re
    from base64 import b32decode

    from tests.conftest import totp_code

    key = re.search(r"Demo key for all staff: ([A-Z2-7]+)", output).group(1)
    return totp_code(b32decode(key + "=" * (-len(key) % 8)).hex())


def sign_in_with_code(email: str, code: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    response = client.post("/accounts/two-factor/verify/", {"code": code, "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    return client


def test_a_demo_facilitator_signs_in_to_the_admin_with_what_is_printed(debug: None) -> None:
    output = seed()

    client = sign_in_with_code(DEMO_FACILITATOR, printed_code(output))

    assert client.get("/admin/").status_code == 200
    at_risk_page = client.get("/admin/circles/circle/at-risk/").content.decode()
    assert "Ben Carter" in at_risk_page and "Noah Bennett" in at_risk_page
    assert "manage.py demo_code" in output


def test_demo_code_prints_the_code_that_signs_demo_staff_in(debug: None) -> None:
    seed()
    out = StringIO()

    call_command("demo_code", stdout=out, stderr=StringIO())

    client = sign_in_with_code(DEMO_ADMIN, out.getvalue().strip())
    assert client.get("/admin/").status_code == 200


def test_demo_code_refuses_with_debug_off(settings) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_code", stdout=StringIO())


def test_the_demo_circle_page_shows_its_facilitator_bio_and_first_night(debug: None) -> None:
    seed()

    html = Client().get("/circles/mission-tuesday/").content.decode()

    assert "Marcus R." in html and "facilitated for six" in html
    assert "Your first night" in html and "there is tea" in html
    assert "Next meeting: <strong>" in html and "Los Angeles time" in html
