"""Cached member pages: few queries, the change on the very next request, and never
one man's page for another (circles.fragments on circles.caching)."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.models import DuesTier, OfflinePayment, Scholarship
from circles import services
from circles.models import RSVP, Attendance, Circle, Meeting, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD, capture_all_queries, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/circles/brooklyn-tuesday/"


def total_queries(client: Client, url: str) -> int:
    """Every query of every database the request made: the session and the user too."""
    with capture_all_queries() as captured:
        assert client.get(url).status_code == 200
    return sum(len(c) for c in captured.values())


def cold_and_warm(client: Client, url: str, times: int = 3) -> list[int]:
    cache.delete_pattern("*")
    return [total_queries(client, url) for _ in range(times)]


_n = iter(range(1, 10_000))


def busy_member(man: User, circles: int) -> None:
    """A man in `circles` more circles, each with other men, past meetings he attended
    and coming ones he answered; and one more where he waits for a seat."""
    for _ in range(circles):
        i = next(_n)
        other = make_circle(name=f"Circle of {i}")
        services.agreement_publish(circle=other, text="Confidential.")
        join(man, other)
        for j in range(3):
            join(make_verified(f"m{i}-{j}@example.com", full_name=f"Man {i} {j}"), other)
        for week in range(-3, 4):
            meeting = make_meeting(other, in_days=week * 7 + 1.5)
            if week < 0:
                Attendance.objects.create(meeting=meeting, user=man, status="present")
            else:
                RSVP.objects.create(meeting=meeting, user=man, response="yes")
    full = make_circle(name=f"Full {next(_n)}", capacity=2)
    join(make_verified(f"x{full.pk}@example.com"), full)
    join(make_verified(f"y{full.pk}@example.com"), full)
    waiting = services.membership_request(circle=full, user=man, agreement_version=None)
    assert waiting.status == Membership.Status.WAITLISTED


def test_the_dashboard_takes_at_most_five_queries_cold_or_warm_whatever_his_data(
    circle: Circle, circle_member: User
) -> None:
    DuesTier.objects.create(name="Base", amount_cents=2000)
    Scholarship.objects.create(
        user=circle_member, kind="waived", reason="-", status="approved", until=date(2099, 1, 1)
    )
    busy_member(circle_member, 2)
    client = signed_in(circle_member)

    small = cold_and_warm(client, "/dashboard/", 4)
    busy_member(circle_member, 4)
    large = cold_and_warm(client, "/dashboard/", 4)

    # Session (creds), user, then his memberships (with his dues), his meetings
    # and his events' registrations (events' section, cached on its own scopes);
    # then the sections come from the cache and only his dues are read, once;
    # warm, nothing but the session and the user.
    assert small == large == [5, 4, 3, 2]
    content = client.get("/dashboard/").content.decode()
    assert "number 1 on the waitlist" in content
    assert "Your dues are waived until 1 January 2099." in content
    assert content.count("You're coming.") == 5


def test_a_dashboard_without_any_circle_takes_five_queries_too(member: User) -> None:
    assert cold_and_warm(signed_in(member), "/dashboard/", 4) == [5, 4, 3, 2]


def test_his_dues_line_changes_on_the_next_request_after_a_payment_or_waiver(member: User) -> None:
    """The cached dues line is forgotten by every save of what it is made from."""
    DuesTier.objects.create(name="Base", amount_cents=2000)
    client = signed_in(member)
    cold_and_warm(client, "/dashboard/", 4)  # his dues line is in the cache now
    assert "Your dues are waived" not in client.get("/dashboard/").content.decode()

    waiver = Scholarship.objects.create(
        user=member, kind="waived", reason="-", status="approved", until=date(2099, 1, 1)
    )
    assert (
        "Your dues are waived until 1 January 2099." in client.get("/dashboard/").content.decode()
    )
    waiver.status = "declined"
    waiver.save()
    assert "Your dues are waived" not in client.get("/dashboard/").content.decode()
    OfflinePayment.objects.create(
        user=member,
        amount_cents=2000,
        method="cash",
        covers_from=date(2000, 1, 1),
        covers_until=date(2099, 1, 1),
    )
    assert "Your dues are paid until 1 January 2099." in client.get("/dashboard/").content.decode()


@pytest.mark.parametrize("persona", ["anonymous", "member"])
def test_the_circle_page_takes_a_fixed_number_of_queries_and_fewer_warm(
    request, circle: Circle, facilitator: User, circle_member: User, persona: str
) -> None:
    client = Client() if persona == "anonymous" else signed_in(circle_member)
    make_meeting(circle)
    small = cold_and_warm(client, URL)
    busy_member(circle_member, 2)
    for i in range(5):
        join(make_verified(f"grow{i}@example.com"), circle)
        make_meeting(circle, in_days=10 + i)
    large = cold_and_warm(client, URL)

    assert small == large
    # Warm, the whole page comes from the cache: no query for a visitor; the
    # session and the user for a member (the rest is on his own key).
    assert large[-1] == (0 if persona == "anonymous" else 2)


def test_the_meeting_page_takes_two_queries_warm(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle)
    RSVP.objects.create(meeting=meeting, user=circle_member, response="yes")
    client = signed_in(circle_member)

    # Cold: its circle, the session, the user, the meeting with his answer, the
    # answers; then his page is his from the cache: the session and the user.
    assert cold_and_warm(client, f"/meetings/{meeting.pk}/") == [5, 2, 2]


@pytest.mark.parametrize("persona", ["anonymous", "member"])
def test_the_home_page_takes_a_fixed_number_of_queries(
    request, circle_member: User, persona: str
) -> None:
    client = Client() if persona == "anonymous" else signed_in(circle_member)
    assert cold_and_warm(client, "/") == ([0, 0, 0] if persona == "anonymous" else [2, 2, 2])


# --- The change shows on the next request --------------------------------------------------


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_joining_shows_on_his_dashboard_and_to_the_circle_at_once(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    newcomer = make_verified("nate@example.com", full_name="Nate Newcomer")
    his, theirs = signed_in(newcomer), signed_in(circle_member)
    assert "Brooklyn Tuesday" not in page(his, "/dashboard/")
    assert "Nate N." not in page(theirs, URL)

    services.agreement_accept(user=newcomer, circle=circle, version=1)
    asked = services.membership_request(circle=circle, user=newcomer, agreement_version=1)
    assert "request sent to the facilitator" in page(his, "/dashboard/")
    services.membership_approve(membership=asked)

    assert "Brooklyn Tuesday</a> ·" in page(his, "/dashboard/")
    assert "Nate N." in page(theirs, URL)
    assert "Who is in the circle" in page(his, URL)


def test_leaving_shows_on_his_dashboard_and_to_the_circle_at_once(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    his, theirs = signed_in(circle_member), signed_in(facilitator)
    make_meeting(circle)
    assert "Brooklyn Tuesday" in page(his, "/dashboard/")
    assert "Who is in the circle" in page(his, URL)
    assert "Ben M." in page(theirs, URL)

    services.membership_leave(membership=Membership.objects.get(user=circle_member))

    assert "Brooklyn Tuesday" not in page(his, "/dashboard/")
    assert "Who is in the circle" not in page(his, URL)
    assert "Ben M." not in page(theirs, URL)


def test_an_rsvp_shows_on_his_dashboard_and_on_the_meeting_page_at_once(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle)
    his, theirs = signed_in(circle_member), signed_in(facilitator)
    assert "Are you coming?" in page(his, "/dashboard/")
    assert "Nobody has said yes yet." in page(theirs, f"/meetings/{meeting.pk}/")

    his.post(f"/meetings/{meeting.pk}/rsvp/", {"response": "yes"})

    assert "You're coming." in page(his, "/dashboard/")
    assert "Ben M." in page(theirs, f"/meetings/{meeting.pk}/")
    his.post(f"/meetings/{meeting.pk}/rsvp/", {"response": "no"})
    assert "You can't come." in page(his, "/dashboard/")
    assert "Can't come: Ben M." in page(theirs, f"/meetings/{meeting.pk}/")


def test_a_cancelled_meeting_shows_as_cancelled_everywhere_at_once(
    circle: Circle, circle_member: User
) -> None:
    meeting = make_meeting(circle)
    client, visitor = signed_in(circle_member), Client()
    for url in ["/dashboard/", URL, f"/meetings/{meeting.pk}/"]:
        assert "Cancelled" not in page(client, url)
    assert "No meeting is scheduled yet." not in page(visitor, URL)

    services.meeting_cancel(meeting=meeting, reason="The hall is flooded.")

    assert "The hall is flooded." in page(client, "/dashboard/")
    assert "<strong>Cancelled</strong>: The hall is flooded." in page(client, URL)
    assert "This meeting is cancelled." in page(client, f"/meetings/{meeting.pk}/")
    assert "No meeting is scheduled yet." in page(visitor, URL)


def test_a_changed_agreement_asks_him_at_once_and_his_acceptance_ends_the_asking(
    circle: Circle, circle_member: User
) -> None:
    client = signed_in(circle_member)
    assert "The agreements changed" not in page(client, URL)

    services.agreement_publish(circle=circle, text="Phones stay off.")
    content = page(client, URL)
    assert "The agreements changed" in content
    assert "Phones stay off." in content

    client.post(f"{URL}agreements/", {"version": 2})
    assert "The agreements changed" not in page(client, URL)


def test_a_new_seat_count_and_dues_range_show_to_visitors_at_once(circle: Circle) -> None:
    visitor = Client()
    assert "10 of 10 seats free" in page(visitor, URL)
    assert "Dues:" not in page(visitor, URL)

    join(make_verified("a@example.com"), circle)
    DuesTier.objects.create(name="Base", amount_cents=2000)

    content = page(visitor, URL)
    assert "9 of 10 seats free" in content
    assert "Dues: 20 USD a month" in content


def test_a_renamed_member_is_renamed_on_his_circles_pages(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle)
    RSVP.objects.create(meeting=meeting, user=circle_member, response="yes")
    theirs = signed_in(facilitator)
    assert "Ben M." in page(theirs, URL)
    assert "Ben M." in page(theirs, f"/meetings/{meeting.pk}/")

    circle_member.full_name = "Benedict Quill"
    circle_member.save(update_fields=["full_name"])

    assert "Benedict Q." in page(theirs, URL)
    assert "Benedict Q." in page(theirs, f"/meetings/{meeting.pk}/")


def test_a_meeting_that_is_over_leaves_the_dashboard_without_any_write(
    circle: Circle, circle_member: User
) -> None:
    now = timezone.now()
    meeting = Meeting.objects.create(
        circle=circle, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(seconds=1.5)
    )
    client = signed_in(circle_member)
    page(client, "/dashboard/")  # his circles, cached
    assert f"/meetings/{meeting.pk}/" in page(client, "/dashboard/")  # the sections, cached

    time.sleep(1.6)

    # No write, no bump: the cached sections lived only until the meeting's end.
    assert f"/meetings/{meeting.pk}/" not in page(client, "/dashboard/")


# --- Never one man's page for another --------------------------------------------------------


def test_two_members_of_one_circle_each_see_their_own_answers(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle)
    RSVP.objects.create(meeting=meeting, user=circle_member, response="yes")
    RSVP.objects.create(meeting=meeting, user=facilitator, response="no")
    ben, fred = signed_in(circle_member), signed_in(facilitator)

    for _ in range(2):  # cold, then warm
        assert "You're coming." in page(ben, "/dashboard/")
        assert "You can't come." in page(fred, "/dashboard/")
        assert "You're coming." in page(ben, f"/meetings/{meeting.pk}/")
        assert "You can't come." in page(fred, f"/meetings/{meeting.pk}/")


def test_only_the_leader_is_told_he_is_leading(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle, leader=circle_member)
    ben, fred = signed_in(circle_member), signed_in(facilitator)

    for _ in range(2):
        assert "You're leading this week." in page(ben, f"/meetings/{meeting.pk}/")
        fred_sees = page(fred, f"/meetings/{meeting.pk}/")
        assert "You're leading this week." not in fred_sees
        assert "Led by Ben M." in fred_sees


@pytest.mark.parametrize("first", ["member", "anonymous", "outsider"])
def test_the_circle_page_cached_for_one_viewer_shows_nothing_of_his_to_another(
    circle: Circle, facilitator: User, circle_member: User, other_member: User, first: str
) -> None:
    """Whoever fills the cache first, each sees his own page; a visitor never the roster."""
    services.agreement_publish(circle=circle, text="Phones stay off.")
    services.agreement_accept(user=facilitator, circle=circle, version=2)
    viewers = {
        "member": signed_in(circle_member),
        "facilitator": signed_in(facilitator),
        "anonymous": Client(),
        "outsider": signed_in(other_member),
    }
    order = [first, *(v for v in viewers if v != first)]

    for _ in range(2):
        seen = {who: page(viewers[who], URL) for who in order}
        for who in ("anonymous", "outsider"):
            assert "221B Secret Street" not in seen[who]
            assert "Who is in the circle" not in seen[who]
            assert "Ben M." not in seen[who]
            assert "The agreements changed" not in seen[who]
            assert "Ask to join" in seen[who]
        for who in ("member", "facilitator"):
            assert "221B Secret Street" in seen[who]
            assert "Ben M." in seen[who]
        # Each man's own acceptance: Ben has not accepted version 2, Fred has.
        assert "The agreements changed" in seen["member"]
        assert "The agreements changed" not in seen["facilitator"]


def test_a_waitlisted_man_sees_his_own_place_and_nobody_elses(circle: Circle) -> None:
    full = make_circle(name="Full House", slug="full-house", capacity=2)
    join(make_verified("a@example.com"), full)
    join(make_verified("b@example.com"), full)
    first, second = make_verified("w1@example.com"), make_verified("w2@example.com")
    services.membership_request(circle=full, user=first, agreement_version=None)
    services.membership_request(circle=full, user=second, agreement_version=None)
    one, two = signed_in(first), signed_in(second)

    for _ in range(2):
        assert "You are number 1 on the waitlist" in page(one, "/circles/full-house/")
        assert "You are number 2 on the waitlist" in page(two, "/circles/full-house/")
        assert "number 1 on the waitlist" in page(one, "/dashboard/")
        assert "number 2 on the waitlist" in page(two, "/dashboard/")


def test_a_signed_out_man_never_gets_a_members_page(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle)
    client = signed_in(circle_member)
    for url in ["/dashboard/", URL, f"/meetings/{meeting.pk}/"]:
        page(client, url)  # cached for him

    client.post("/accounts/logout/")

    assert client.get("/dashboard/").status_code == 302
    assert client.get(f"/meetings/{meeting.pk}/").status_code == 302
    content = page(client, URL)
    assert "221B Secret Street" not in content
    assert "Who is in the circle" not in content
    assert "Ask to join" in content


def csrf_of(content: str, action: str = "") -> str:
    """The token of the first form on the page (posting to `action`, if given)."""
    form = content.split(f'action="{action}', 1)[1] if action else content
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert found, content
    return found.group(1)


def test_a_cached_dashboard_carries_this_sign_ins_own_csrf_token(
    circle: Circle, circle_member: User
) -> None:
    """His sections are cached, his forms' token is not: after signing in again
    (a new token) the RSVP buttons on the cached dashboard still work."""
    meeting = make_meeting(circle)
    signed_in(circle_member).get("/dashboard/")  # cache filled in an earlier sign-in
    signed_in(circle_member).get("/dashboard/")
    client = Client(enforce_csrf_checks=True)
    form = {"username": circle_member.email, "password": PASSWORD}
    form["csrfmiddlewaretoken"] = csrf_of(page(client, "/accounts/login/"))
    assert client.post("/accounts/login/", form).status_code == 302
    token = csrf_of(page(client, "/dashboard/"), f"/meetings/{meeting.pk}/rsvp/")

    response = client.post(
        f"/meetings/{meeting.pk}/rsvp/", {"response": "yes", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert RSVP.objects.get(meeting=meeting, user=circle_member).response == "yes"
