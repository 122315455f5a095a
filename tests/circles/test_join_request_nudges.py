"""Nobody left waiting: a join request unanswered for 3 days puts it in its circle's
facilitators' daily email (one a day, all his circles' requests in it) until it is answered;
one unanswered for 7 days is also in the superusers' daily email.

Days are passed to the service as `now` (the request's age is what moves); the command
itself runs on the clock, its day the recipient's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from notifications.models import Notification
from tests.circles.conftest import join, make_circle, make_facilitator, make_verified
from tests.conftest import committed, force_signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

# Noon UTC: every facilitator's day (New York's, UTC's) is the same calendar day.
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WAITING, OVERDUE = "join_request_waiting", "join_request_overdue"


def ask(user: User, circle: Circle, *, at: datetime = T0) -> Membership:
    membership = services.membership_request(circle=circle, user=user, agreement_version=1)
    Membership.objects.filter(pk=membership.pk).update(requested_at=at)
    membership.refresh_from_db()
    return membership


def on_day(day: float) -> int:
    """Run the reminders `day` days after T0; how many messages were queued."""
    return services.requests_nudge(now=T0 + timedelta(days=day))


def sent(kind: str, user: User) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind, user=user).order_by("pk"))


def answer_link(membership: Membership) -> str:
    return f"/admin/circles/membership/{membership.pk}/answer/"


@pytest.fixture
def dan(db: None) -> User:
    return make_verified("dan@example.com", full_name="Dan Newman")


@pytest.fixture
def boss(db: None) -> User:
    """A verified superuser: he reads the overdue requests."""
    return User.objects.create_superuser(
        "alice@example.com", full_name="Alice Admin", email_verified_at=timezone.now()
    )


# --- The facilitators: one email a day from day 3 -----------------------------------------


def test_day_2_nothing_day_3_one_email_same_day_none_next_day_one_more(
    circle: Circle, facilitator: User, dan: User
) -> None:
    waiting = ask(dan, circle)

    assert on_day(2.9) == 0
    assert on_day(3) == 1
    assert on_day(3.2) == 0  # the same day: the scheduler's next pass
    assert on_day(3.4) == 0
    assert on_day(4) == 1
    assert on_day(5) == 1

    rows = sent(WAITING, facilitator)
    assert [row.subject_key for row in rows] == [
        "join_request_waiting:2026-03-05",
        "join_request_waiting:2026-03-06",
        "join_request_waiting:2026-03-07",
    ]
    assert rows[0].subject == "Dan N. is still waiting to join Brooklyn Tuesday"
    assert "asked 3 days ago" in rows[0].body and "asked 5 days ago" in rows[2].body
    assert answer_link(waiting) in rows[0].body
    assert "Dan Newman" not in rows[0].body  # his first name and initial only


@pytest.mark.parametrize("answer", ["approve", "decline", "withdraw"])
def test_an_answered_request_is_in_no_later_email(
    circle: Circle, facilitator: User, dan: User, answer: str
) -> None:
    waiting = ask(dan, circle)
    assert on_day(3) == 1

    if answer == "approve":
        services.membership_approve(membership=waiting)
    elif answer == "decline":
        services.membership_decline(membership=waiting)
    else:
        services.membership_withdraw(membership=waiting)

    assert on_day(4) == 0
    assert on_day(8) == 0
    assert len(sent(WAITING, facilitator)) == 1


def test_one_email_lists_all_his_circles_requests_and_each_lead_only_his_own(
    circle: Circle, facilitator: User, dan: User
) -> None:
    second = make_circle(name="Astoria Thursday", slug="astoria-thursday")
    services.agreement_publish(circle=second, text="Confidential.")
    join(facilitator, second, role=Membership.Role.FACILITATOR)
    cora = make_facilitator("cora@example.com", second)
    Membership.objects.filter(user=cora).update(role=Membership.Role.CO_FACILITATOR)
    here = ask(dan, circle)
    there = ask(
        make_verified("eli@example.com", full_name="Eli Waits"), second, at=T0 - timedelta(1)
    )
    fresh = ask(
        make_verified("fin@example.com", full_name="Fin Fresh"), second, at=T0 + timedelta(1)
    )

    assert on_day(3) == 2  # one to Fred (both circles), one to Cora (hers)

    (to_fred,) = sent(WAITING, facilitator)
    assert to_fred.subject == "2 men are still waiting to join your circles"
    assert answer_link(here) in to_fred.body and answer_link(there) in to_fred.body
    assert answer_link(fresh) not in to_fred.body  # 2 days: not yet
    # Grouped by circle, the longest waiting first within it.
    assert to_fred.body.index("Astoria Thursday") < to_fred.body.index("Brooklyn Tuesday")
    (to_cora,) = sent(WAITING, cora)
    assert answer_link(there) in to_cora.body and answer_link(here) not in to_cora.body

    # The next day Fin has waited 3 days too: in the same single email.
    assert on_day(4) == 2
    assert answer_link(fresh) in sent(WAITING, facilitator)[1].body


def test_a_waitlisted_man_and_a_request_to_a_circle_nobody_runs_remind_no_one(
    circle: Circle, facilitator: User, dan: User
) -> None:
    Membership.objects.create(
        circle=circle, user=dan, status=Membership.Status.WAITLISTED, requested_at=T0
    )
    orphan = make_circle(name="Nobody Runs", slug="nobody-runs")
    services.agreement_publish(circle=orphan, text="Confidential.")
    ask(make_verified("eli@example.com"), orphan)

    assert on_day(3) == 0
    assert not Notification.objects.filter(kind__in=[WAITING, OVERDUE]).exists()


def test_the_day_is_the_facilitators_own(circle: Circle, facilitator: User, dan: User) -> None:
    User.objects.filter(pk=facilitator.pk).update(time_zone="America/New_York")
    ask(dan, circle, at=datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    evening = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)  # 18:30 in New York

    assert services.requests_nudge(now=evening) == 1
    # 00:30 UTC is the next day in London, still the same evening in New York.
    assert services.requests_nudge(now=evening + timedelta(hours=1)) == 0
    assert services.requests_nudge(now=evening + timedelta(hours=6)) == 1  # 00:30 there

    keys = [row.subject_key for row in sent(WAITING, facilitator)]
    assert keys == ["join_request_waiting:2026-03-05", "join_request_waiting:2026-03-06"]


def test_a_request_asked_again_waits_its_3_days_again(
    circle: Circle, facilitator: User, dan: User
) -> None:
    first = ask(dan, circle)
    assert on_day(3) == 1
    services.membership_withdraw(membership=first)
    Membership.objects.filter(pk=first.pk).update(left_at=T0 - timedelta(days=8))
    again = ask(dan, circle, at=T0 + timedelta(days=1))

    assert on_day(3.5) == 0  # asked again 2.5 days ago: not yet
    assert on_day(4) == 1
    assert answer_link(again) in sent(WAITING, facilitator)[-1].body
    assert "asked 3 days ago" in sent(WAITING, facilitator)[-1].body


def test_a_request_expired_at_14_days_reminds_no_one_after(
    circle: Circle, facilitator: User, dan: User
) -> None:
    waiting = ask(dan, circle, at=timezone.now() - timedelta(days=14, hours=1))
    with committed():
        call_command("expire_join_requests", stdout=StringIO())
    waiting.refresh_from_db()

    assert waiting.status == Membership.Status.EXPIRED
    assert services.requests_nudge(now=timezone.now() + timedelta(days=1)) == 0


# --- The command, on the clock --------------------------------------------------------------


def test_the_command_sends_one_email_a_day_however_often_it_runs(
    circle: Circle, facilitator: User, dan: User, boss: User
) -> None:
    waiting = ask(dan, circle, at=timezone.now() - timedelta(days=3, minutes=5))
    mail.outbox.clear()

    out = StringIO()
    with committed():
        call_command("expire_join_requests", stdout=out)
        call_command("expire_join_requests", stdout=out)
        call_command("expire_join_requests", stdout=out)

    assert out.getvalue().count("Reminded facilitators of waiting requests: 1 messages.") == 1
    assert out.getvalue().count("Reminded facilitators of waiting requests: 0 messages.") == 2
    (email,) = mail.outbox
    assert email.to == [facilitator.email]
    assert email.subject == "Dan N. is still waiting to join Brooklyn Tuesday"
    assert f"{settings.SITE_URL}{answer_link(waiting)}" in email.body


# --- The superusers: from day 7 -------------------------------------------------------------


def test_day_7_the_superusers_get_a_daily_email_of_the_overdue_requests(
    circle: Circle, facilitator: User, dan: User, boss: User
) -> None:
    overdue = ask(dan, circle)
    younger = ask(
        make_verified("eli@example.com", full_name="Eli Waits"), circle, at=T0 + timedelta(3)
    )

    assert on_day(6) == 1  # the facilitator only
    assert sent(OVERDUE, boss) == []
    assert on_day(7) == 2  # the facilitator's, and the superuser's
    assert on_day(7.3) == 0
    assert on_day(8) == 2

    first, second = sent(OVERDUE, boss)
    assert first.subject_key == "join_request_overdue:2026-03-09"
    assert first.subject == "Dan N. has waited 7 days to join Brooklyn Tuesday"
    assert answer_link(overdue) in first.body
    assert answer_link(younger) not in first.body  # 4 days: his facilitator's only
    assert "asked 8 days ago" in second.body
    assert len(sent(WAITING, facilitator)) == 3  # days 6 to 8, both requests in each
    assert answer_link(younger) in sent(WAITING, facilitator)[-1].body

    services.membership_approve(membership=overdue)
    assert on_day(9) == 1  # Eli still waits: his facilitator hears; the superuser does not
    assert len(sent(OVERDUE, boss)) == 2


def test_the_superusers_see_every_circles_overdue_requests_in_one_email(
    circle: Circle, facilitator: User, dan: User, boss: User
) -> None:
    other = make_circle(name="Astoria Thursday", slug="astoria-thursday")
    services.agreement_publish(circle=other, text="Confidential.")
    make_facilitator("olaf@example.com", other)
    here = ask(dan, circle)
    there = ask(make_verified("eli@example.com", full_name="Eli Waits"), other)

    assert on_day(7) == 3  # Fred, Olaf, and Alice once for both

    (email,) = sent(OVERDUE, boss)
    assert email.subject == "2 join requests have waited a week or more"
    assert answer_link(here) in email.body and answer_link(there) in email.body


# --- Who gets these emails, by persona --------------------------------------------------------


def test_no_one_but_the_facilitators_and_verified_active_superusers_is_told(
    circle: Circle,
    facilitator: User,
    circle_member: User,
    other_member: User,
    dan: User,
    boss: User,
    staff: User,
) -> None:
    other_lead = make_facilitator("olaf@example.com", Circle.objects.get(slug="other-circle"))
    asleep = User.objects.create_superuser(
        "gone@example.com",
        full_name="Gone Admin",
        email_verified_at=timezone.now(),
        is_active=False,
    )
    unverified = User.objects.create_superuser("new@example.com", full_name="New Admin")
    ask(dan, circle)

    assert on_day(7) == 2

    told = set(
        Notification.objects.filter(kind__in=[WAITING, OVERDUE]).values_list("user__email", "kind")
    )
    assert told == {(facilitator.email, WAITING), (boss.email, OVERDUE)}
    for nobody in (circle_member, other_member, other_lead, dan, staff, asleep, unverified):
        assert not Notification.objects.filter(user=nobody, kind__in=[WAITING, OVERDUE]).exists()


def test_the_link_in_each_email_opens_for_who_got_it_and_no_one_else(
    circle: Circle, facilitator: User, circle_member: User, dan: User, boss: User
) -> None:
    other_lead = make_facilitator("olaf@example.com", make_circle(slug="astoria"))
    waiting = ask(dan, circle)
    link = answer_link(waiting)

    assert force_signed_in(facilitator).get(link).status_code == 200
    assert force_signed_in(boss).get(link).status_code == 200
    assert force_signed_in(other_lead).get(link).status_code == 404
    for response in (
        Client().get(link),
        force_signed_in(circle_member).get(link),
        force_signed_in(dan).get(link),
    ):
        assert response.status_code == 302 and "/login/" in response["Location"]
    waiting.refresh_from_db()
    assert waiting.status == Membership.Status.REQUESTED


# --- His deletion -----------------------------------------------------------------------------


def test_a_man_who_deletes_his_account_is_forgotten_in_every_email_listing_him(
    circle: Circle, facilitator: User, boss: User
) -> None:
    # A display name alone: no initial to search the log for, his answer link is found.
    kit = make_verified("kit@example.com", full_name="Kit", display_name="Kestrel")
    other = ask(make_verified("eli@example.com", full_name="Eli Waits"), circle)
    ask(kit, circle)
    on_day(7)
    unrelated = Notification.objects.create(
        user=facilitator, channel="email", kind=WAITING, subject_key="x", body=answer_link(other)
    )

    account_services.user_delete(user=kit)

    for row in Notification.objects.filter(kind__in=[WAITING, OVERDUE]).exclude(pk=unrelated.pk):
        assert (row.subject, row.body, row.html_body) == ("", "", ""), row.kind
    unrelated.refresh_from_db()
    assert unrelated.body == answer_link(other)


def test_the_at_risk_page_marks_a_request_waiting_a_week_for_who_may_answer_it(
    circle: Circle, facilitator: User, dan: User, boss: User
) -> None:
    other_lead = make_facilitator("olaf@example.com", make_circle(slug="astoria"))
    old = ask(dan, circle, at=timezone.now() - timedelta(days=7, hours=1))
    ask(
        make_verified("eli@example.com", full_name="Eli Waits"),
        circle,
        at=timezone.now() - timedelta(days=4),
    )
    url = "/admin/circles/circle/at-risk/"

    for reader in (boss, facilitator):
        page = force_signed_in(reader).get(url).content.decode()
        assert page.count('class="overdue"') == 1, reader.email
        assert answer_link(old) in page
    page = force_signed_in(other_lead).get(url).content.decode()
    assert answer_link(old) not in page and 'class="overdue"' not in page
    assert Client().get(url).status_code == 302
