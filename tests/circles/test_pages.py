from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from circles import services
from circles.models import RSVP, Circle, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import committed, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

SECRETS = ["221B Secret Street", "video.example.com/secret-room"]


def client_for(request, persona: str) -> Client:
    return Client() if persona == "anonymous" else signed_in(request.getfixturevalue(persona))


# --- Directory ----------------------------------------------------------------------


def test_directory_lists_listed_open_circles_with_public_information_only(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    make_circle(name="Hidden Circle", is_listed=False)
    make_circle(name="Closed Circle", status=Circle.Status.CLOSED)

    content = Client().get("/circles/").content.decode()

    assert "Brooklyn Tuesday" in content
    assert "Hidden Circle" not in content
    assert "Closed Circle" not in content
    assert "Park Slope, Brooklyn" in content
    assert "Fred F." in content
    assert "Facilitator" not in content.split("Fred F.")[1][:20]
    for secret in [*SECRETS, facilitator.email, circle_member.email, "+14155550123"]:
        assert secret not in content


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("weekday=1", "Brooklyn Tuesday", "Online Friday"),
        ("weekday=4", "Online Friday", "Brooklyn Tuesday"),
        ("kind=online", "Online Friday", "Brooklyn Tuesday"),
        ("kind=in_person", "Brooklyn Tuesday", "Online Friday"),
        ("open_seats=on", "Online Friday", "Full House"),
    ],
)
def test_directory_filters(circle: Circle, query: str, shown: str, hidden: str) -> None:
    make_circle(name="Online Friday", weekday=4, location_kind="online")
    full = make_circle(name="Full House", capacity=2, weekday=4)
    join(make_verified("a@example.com"), full)
    join(make_verified("b@example.com"), full)

    content = Client().get(f"/circles/?{query}").content.decode()

    assert shown in content
    assert hidden not in content


@pytest.mark.parametrize("query", ["weekday=9", "weekday=abc", "kind=underwater"])
def test_bad_directory_filters_say_so_and_show_everything(circle: Circle, query: str) -> None:
    response = Client().get(f"/circles/?{query}")

    assert response.status_code == 200
    assert "not understood" in response.content.decode()
    assert "Brooklyn Tuesday" in response.content.decode()


# --- Circle page and privacy ------------------------------------------------------------


@pytest.mark.parametrize("persona", ["anonymous", "other_member", "member"])
def test_outsiders_never_see_private_details_on_the_circle_page(
    request, circle: Circle, facilitator: User, circle_member: User, persona: str
) -> None:
    circle_member.share_email = True
    Membership.objects.filter(user=circle_member).update(share_email=True, share_phone=True)

    content = client_for(request, persona).get("/circles/brooklyn-tuesday/").content.decode()

    assert "Brooklyn Tuesday" in content
    for secret in [*SECRETS, circle_member.email, "+14155550123", "Member", "Facilitator <"]:
        assert secret not in content
    assert "Ask to join" in content


def test_members_see_address_roster_and_only_shared_contacts(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    shy = make_verified("shy@example.com", full_name="Sam Shy", phone="+14155550999")
    join(shy, circle)
    Membership.objects.filter(user=circle_member).update(share_email=True, share_phone=True)

    content = signed_in(circle_member).get("/circles/brooklyn-tuesday/").content.decode()

    for secret in SECRETS:
        assert secret in content
    assert "Sam S." in content
    assert "Ben M." in content
    assert circle_member.email in content and "+14155550123" in content
    assert shy.email not in content and "+14155550999" not in content
    assert "Shy" not in content.replace("Sam S.", "")


def test_an_unlisted_circle_is_404_to_outsiders_and_open_to_its_members(
    circle_member: User, member: User
) -> None:
    hidden = make_circle(name="Hidden", slug="hidden", is_listed=False)
    join(circle_member, hidden)

    assert Client().get("/circles/hidden/").status_code == 404
    assert signed_in(member).get("/circles/hidden/").status_code == 404
    assert signed_in(circle_member).get("/circles/hidden/").status_code == 200
    assert Client().get("/circles/no-such-circle/").status_code == 404


# --- Joining through the pages --------------------------------------------------------------


def test_a_verified_man_asks_to_join_by_accepting_the_agreements(circle: Circle) -> None:
    dan = make_verified("dan@example.com")
    client = signed_in(dan)

    page = client.get("/circles/brooklyn-tuesday/join/")
    assert "What is said here stays here." in page.content.decode()
    refused = client.post("/circles/brooklyn-tuesday/join/", {"version": 1})
    assert "Please accept the agreements" in refused.content.decode()
    assert not Membership.objects.filter(user=dan).exists()

    response = client.post(
        "/circles/brooklyn-tuesday/join/", {"version": 1, "accept": "on"}, follow=True
    )

    assert "Your request is sent to the facilitator." in response.content.decode()
    assert Membership.objects.get(user=dan).status == Membership.Status.REQUESTED


def test_an_unverified_man_is_told_to_verify_and_nothing_is_written(
    circle: Circle, member: User
) -> None:
    response = signed_in(member).post(
        "/circles/brooklyn-tuesday/join/", {"version": 1, "accept": "on"}
    )

    assert "verify your email" in response.content.decode()
    assert not Membership.objects.filter(user=member).exists()


def test_join_needs_sign_in(circle: Circle) -> None:
    response = Client().get("/circles/brooklyn-tuesday/join/")

    assert response["Location"].startswith("/accounts/login/")


def test_a_waitlisted_man_sees_his_position_and_takes_an_offered_seat(circle: Circle) -> None:
    circle.capacity = 2
    circle.save()
    leaver = make_verified("leaver@example.com")
    join(leaver, circle)
    join(make_verified("stay@example.com"), circle)
    dan = make_verified("dan@example.com")
    client = signed_in(dan)
    client.post("/circles/brooklyn-tuesday/join/", {"version": 1, "accept": "on"})
    assert "number 1 on the waitlist" in client.get("/circles/brooklyn-tuesday/").content.decode()
    assert "number 1 on the waitlist" in client.get("/dashboard/").content.decode()

    signed_in_leaver = Client()
    signed_in_leaver.force_login(leaver)
    signed_in_leaver.post("/circles/brooklyn-tuesday/leave/")
    assert "A seat is yours" in client.get("/circles/brooklyn-tuesday/").content.decode()

    client.post("/circles/brooklyn-tuesday/offer/", {"answer": "accept"})

    assert Membership.objects.get(user=dan).status == Membership.Status.ACTIVE


def test_a_bad_offer_answer_changes_nothing(circle: Circle, circle_member: User) -> None:
    response = signed_in(circle_member).post(
        "/circles/brooklyn-tuesday/offer/", {"answer": "maybe"}, follow=True
    )

    assert services.NO_OFFER in response.content.decode()
    assert Membership.objects.get(user=circle_member).status == Membership.Status.ACTIVE


def test_a_member_re_accepts_changed_agreements_on_the_circle_page(
    circle: Circle, circle_member: User
) -> None:
    services.agreement_publish(circle=circle, text="Phones stay off.")
    client = signed_in(circle_member)
    assert "The agreements changed" in client.get("/circles/brooklyn-tuesday/").content.decode()

    client.post("/circles/brooklyn-tuesday/agreements/", {"version": 2})

    assert services.has_accepted_current(circle_member, circle)


def test_sharing_choices_are_saved_for_my_membership_only(
    circle: Circle, circle_member: User, facilitator: User
) -> None:
    signed_in(circle_member).post("/circles/brooklyn-tuesday/sharing/", {"share_email": "on"})

    mine = Membership.objects.get(user=circle_member)
    assert mine.share_email and not mine.share_phone
    assert not Membership.objects.get(user=facilitator).share_email


@pytest.mark.parametrize("url", ["sharing", "agreements"])
def test_member_only_posts_are_404_for_outsiders(
    circle: Circle, other_member: User, url: str
) -> None:
    assert signed_in(other_member).post(f"/circles/brooklyn-tuesday/{url}/").status_code == 404


# --- Meetings, RSVP, dashboard --------------------------------------------------------------


def test_one_click_rsvp_with_htmx_returns_the_fragment(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle)
    client = signed_in(circle_member)

    response = client.post(
        f"/meetings/{meeting.pk}/rsvp/", {"response": "yes"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "You're coming." in response.content.decode()
    assert RSVP.objects.get(meeting=meeting, user=circle_member).channel == "web"


def test_rsvp_without_javascript_redirects_back_to_the_meeting(
    circle: Circle, circle_member: User
) -> None:
    meeting = make_meeting(circle)

    response = signed_in(circle_member).post(
        f"/meetings/{meeting.pk}/rsvp/", {"response": "no"}, follow=True
    )

    assert response.redirect_chain[-1][0] == f"/meetings/{meeting.pk}/"
    assert "You can't come." in response.content.decode()


@pytest.mark.parametrize("data", [{}, {"response": "maybe"}])
def test_a_bad_rsvp_is_a_clear_error_and_changes_nothing(
    circle: Circle, circle_member: User, data: dict
) -> None:
    meeting = make_meeting(circle)

    response = signed_in(circle_member).post(
        f"/meetings/{meeting.pk}/rsvp/", data, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert "Answer yes or no." in response.content.decode()
    assert not RSVP.objects.exists()


def test_rsvp_to_a_cancelled_meeting_is_refused(circle: Circle, circle_member: User) -> None:
    meeting = make_meeting(circle, status="cancelled")

    response = signed_in(circle_member).post(
        f"/meetings/{meeting.pk}/rsvp/", {"response": "yes"}, follow=True
    )

    assert services.MEETING_CLOSED in response.content.decode()
    assert not RSVP.objects.exists()


@pytest.mark.parametrize("persona", ["other_member", "member", "staff"])
def test_meeting_pages_are_404_outside_the_circle(
    request, circle: Circle, circle_member: User, persona: str
) -> None:
    meeting = make_meeting(circle)
    client = client_for(request, persona)

    assert client.get(f"/meetings/{meeting.pk}/").status_code == 404
    assert client.post(f"/meetings/{meeting.pk}/rsvp/", {"response": "yes"}).status_code == 404
    assert client.get(f"/meetings/{meeting.pk}/calendar.ics").status_code == 404
    assert not RSVP.objects.exists()


def test_meeting_pages_need_sign_in(circle: Circle) -> None:
    meeting = make_meeting(circle)
    for url in (f"/meetings/{meeting.pk}/", f"/meetings/{meeting.pk}/calendar.ics", "/dashboard/"):
        assert Client().get(url)["Location"].startswith("/accounts/login/")


def test_dashboard_shows_next_meetings_with_rsvp_and_my_circles(
    circle: Circle, circle_member: User
) -> None:
    meeting = make_meeting(circle)
    services.rsvp_set(meeting=meeting, user=circle_member, response="yes", channel="web")

    content = signed_in(circle_member).get("/dashboard/").content.decode()

    assert f"/meetings/{meeting.pk}/" in content
    assert "You're coming." in content
    assert "Brooklyn Tuesday" in content


# --- A fixed number of queries whatever the data size ----------------------------------------


_grown = iter(range(100_000))


def grow(circle: Circle, n: int) -> None:
    """n more circles, members of `circle` and meetings."""
    for _ in range(n):
        i = next(_grown)
        other = make_circle(name=f"Extra {i}")
        join(make_verified(f"extra{i}@example.com"), other)
        join(make_verified(f"member{i}@example.com"), circle)
        make_meeting(circle, in_days=i + 1)
        make_meeting(other, in_days=i + 1)


def queries_for(client: Client, url: str) -> int:
    from django.core.cache import cache

    from tests.conftest import capture_all_queries

    cache.delete_pattern("*")  # made from nothing cached: the cache is tested elsewhere
    with capture_all_queries() as captured:
        assert client.get(url).status_code == 200
    # The session read (one query on `creds`) is the same whatever the data size:
    # leave it out.
    return sum(1 for c in captured.values() for q in c if "accounts_session" not in q["sql"])


@pytest.mark.parametrize(
    "url", ["/circles/", "/circles/brooklyn-tuesday/", "/dashboard/", "meeting"]
)
def test_member_pages_run_a_fixed_number_of_queries(
    circle: Circle, facilitator: User, circle_member: User, url: str
) -> None:
    client = signed_in(circle_member)
    meeting = make_meeting(circle, in_days=0.5)
    target = f"/meetings/{meeting.pk}/" if url == "meeting" else url
    full = make_circle(capacity=2)
    join(make_verified("x@example.com"), full)
    join(make_verified("y@example.com"), full)
    waiting = services.membership_request(circle=full, user=circle_member, agreement_version=None)
    assert waiting.status == Membership.Status.WAITLISTED  # the dashboard shows his position

    grow(circle, 2)
    small = queries_for(client, target)
    grow(circle, 12)
    large = queries_for(client, target)

    assert small == large


def test_a_newcomer_gets_from_the_landing_page_to_asking_to_join(circle: Circle) -> None:
    """Find a circle, sign up, verify, ask to join: by following links only.

    The circle he started from comes back to him after the emailed link.
    """
    import html
    import re

    from django.core import mail

    client = Client()
    home = client.get("/").content.decode()
    assert 'href="/accounts/signup/"' in home and 'href="/circles/"' in home
    directory = client.get("/circles/").content.decode()
    assert 'href="/circles/brooklyn-tuesday/"' in directory
    page = client.get("/circles/brooklyn-tuesday/").content.decode()
    assert 'href="/circles/brooklyn-tuesday/join/"' in page
    to_sign_in = client.get("/circles/brooklyn-tuesday/join/")["Location"]
    sign_in = client.get(to_sign_in).content.decode()
    sign_up_url = html.unescape(re.search(r'href="(/accounts/signup/\?next=[^"]+)"', sign_in)[1])
    sign_up = client.get(sign_up_url).content.decode()
    next_url = html.unescape(re.search(r'name="next" value="([^"]+)"', sign_up)[1])
    assert next_url == "/circles/brooklyn-tuesday/join/"
    with committed():
        client.post(
            "/accounts/signup/",
            {
                "email": "new@example.com",
                "full_name": "New Man",
                "password1": "Quiet-river-stone-47",
                "password2": "Quiet-river-stone-47",
                "next": next_url,
            },
        )
    link = re.search(r"https?://[^/]+(/accounts/verify/\S+/)", mail.outbox[-1].body)[1]
    assert client.get(link).status_code == 200
    back = client.post(link, {"password": "Quiet-river-stone-47"})
    assert back["Location"] == "/circles/brooklyn-tuesday/join/"

    client.post(back["Location"], {"version": 1, "accept": "on"})

    assert Membership.objects.get(user__email="new@example.com").status == "requested"


@pytest.mark.parametrize(
    ("status", "visible"),
    [
        ("active", True),
        ("requested", True),
        ("waitlisted", True),
        ("left", False),
        ("declined", False),
        ("expired", False),
    ],
)
def test_an_unlisted_circle_shows_only_to_men_still_in_it(status: str, visible: bool) -> None:
    hidden = make_circle(name="Hidden", slug="hidden", is_listed=False)
    dan = make_verified("dan@example.com")
    Membership.objects.create(circle=hidden, user=dan, status=status)

    response = signed_in(dan).get("/circles/hidden/")

    assert response.status_code == (200 if visible else 404)
