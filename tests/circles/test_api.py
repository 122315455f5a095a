"""The circles API: who sees what, RSVPs, filters, pagination, query counts, schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, time, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from accounts.authentication import token_for
from accounts.models import User
from circles import services
from circles.models import RSVP, Circle, Meeting, Membership
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD, capture_all_queries, make_user, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

CIRCLES = "/api/v1/circles/"
MEETINGS = "/api/v1/meetings/"
NOT_FOUND = {"detail": "Not found."}

ADDRESS = "221B Secret Street, Apt 4"  # the conftest circle's
VIDEO = "https://video.example.com/secret-room"
HIDDEN_ADDRESS = "77 Hidden Lane"
HIDDEN_VIDEO = "https://video.example.com/hidden-room"


def circle_url(slug: str) -> str:
    return f"{CIRCLES}{slug}/"


def rsvp_url(meeting_id: int) -> str:
    return f"{MEETINGS}{meeting_id}/rsvp/"


def api(user: User | None = None) -> APIClient:
    """A client carrying the user's JWT access token (anonymous without a user)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user).access_token}")
    return client


def rsvp(user: User | None, meeting_id: int, body: Any = None, **extra: Any) -> Response:
    return api(user).post(rsvp_url(meeting_id), body, format="json", **extra)


def utc(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class World:
    circle: Circle  # listed, "Brooklyn Tuesday", agreements v1
    hidden: Circle  # unlisted
    elsewhere: Circle  # listed, charlie's
    frank: User  # facilitator of `circle`, shares his email
    bob: User  # member of `circle`, shares his phone
    dave: User  # member of `circle`, shares nothing
    ed: User  # member of `hidden` only
    charlie: User  # member of `elsewhere`: an outsider to `circle`
    sam: User  # staff, in no circle
    alice: User  # superuser, in no circle
    meeting: Meeting  # of `circle`
    hidden_meeting: Meeting

    def secrets_of(self, *people: User) -> list[str]:
        """What must not leak of these men: email, phone and surname."""
        found = []
        for man in people:
            found += [man.email, man.phone, man.full_name.split()[-1]]
        return found


def member_of(circle: Circle, email: str, full_name: str, phone: str, **sharing: Any) -> User:
    user = make_verified(email, full_name=full_name, phone=phone)
    join(user, circle, **sharing)
    if services.current_agreement(circle):
        services.agreement_accept(user=user, circle=circle, version=1)
    return user


@pytest.fixture
def world(circle: Circle) -> World:
    frank = member_of(
        circle,
        "frank.oakenshield@example.com",
        "Frank Oakenshield",
        "+14155550101",
        role=Membership.Role.FACILITATOR,
        share_email=True,
    )
    bob = member_of(
        circle, "bob.quillfeather@example.com", "Bob Quillfeather", "+14155550102", share_phone=True
    )
    dave = member_of(circle, "dave.zimmerwald@example.com", "Dave Zimmerwald", "+14155550103")
    hidden = make_circle(
        name="Hidden Circle",
        slug="hidden-circle",
        is_listed=False,
        private_address=HIDDEN_ADDRESS,
        video_link=HIDDEN_VIDEO,
    )
    ed = member_of(
        hidden,
        "ed.vanterpool@example.com",
        "Ed Vanterpool",
        "+14155550104",
        share_email=True,
        share_phone=True,
    )
    elsewhere = make_circle(
        name="Elsewhere",
        slug="elsewhere",
        private_address="9 Elsewhere Road",
        video_link="https://video.example.com/elsewhere",
    )
    charlie = member_of(
        elsewhere, "charlie.brightwater@example.com", "Charlie Brightwater", "+14155550105"
    )
    sam = make_user("sam.staffer@example.com", full_name="Sam Staffer", is_staff=True)
    alice = User.objects.create_superuser(
        "alice.admin@example.com", PASSWORD, full_name="Alice Admin"
    )
    return World(
        circle=circle,
        hidden=hidden,
        elsewhere=elsewhere,
        frank=frank,
        bob=bob,
        dave=dave,
        ed=ed,
        charlie=charlie,
        sam=sam,
        alice=alice,
        meeting=make_meeting(circle, leader=frank, note="Bring a candle."),
        hidden_meeting=make_meeting(hidden, leader=ed),
    )


PERSONAS = ["anonymous", "member", "facilitator", "outsider", "staff", "superuser"]


def persona(world: World, name: str) -> User | None:
    return {
        "anonymous": None,
        "member": world.bob,
        "facilitator": world.frank,
        "outsider": world.charlie,
        "staff": world.sam,
        "superuser": world.alice,
    }[name]


def everything_seen_by(world: World, user: User | None) -> str:
    """Every API answer this man gets about the world, as raw text."""
    client = api(user)
    answers = [
        client.get(CIRCLES),
        client.get(circle_url(world.circle.slug)),
        client.get(circle_url(world.hidden.slug)),
        client.get(MEETINGS),
        client.post(rsvp_url(world.meeting.pk), {"response": "yes"}, format="json"),
        client.post(rsvp_url(world.hidden_meeting.pk), {"response": "yes"}, format="json"),
    ]
    return "\n".join(answer.content.decode() for answer in answers)


# --- Privacy --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["anonymous", "outsider", "staff", "superuser"])
def test_non_members_never_see_an_address_link_email_phone_or_surname(
    world: World, name: str
) -> None:
    seen = everything_seen_by(world, persona(world, name))

    private = [ADDRESS, VIDEO, HIDDEN_ADDRESS, HIDDEN_VIDEO, "Hidden Circle", "hidden-circle"]
    private += world.secrets_of(world.frank, world.bob, world.dave, world.ed)
    leaked = [value for value in private if value in seen]
    assert leaked == []
    assert "Frank O." in seen  # the public name is there


def test_anonymous_reads_the_public_circle(world: World) -> None:
    response = api().get(circle_url("brooklyn-tuesday"))

    assert response.status_code == 200
    assert response.json() == {
        "name": "Brooklyn Tuesday",
        "slug": "brooklyn-tuesday",
        "description": "",
        "schedule": {
            "weekday": 1,
            "start_time": "19:00",
            "time_zone": "America/New_York",
            "frequency": "weekly",
            "week_of_month": None,
            "duration_minutes": 90,
            "text": "Every Tuesday, 19:00 (America/New_York)",
        },
        "location_kind": "in_person",
        "public_area": "Park Slope, Brooklyn",
        "capacity": 10,
        "seats_taken": 3,
        "status": "open",
        "facilitators": [{"name": "Frank O.", "role": "facilitator"}],
    }


@pytest.mark.parametrize("name", ["member", "facilitator"])
def test_members_see_the_address_link_and_only_what_each_man_shares(
    world: World, name: str
) -> None:
    response = api(persona(world, name)).get(circle_url("brooklyn-tuesday"))

    assert response.status_code == 200
    body = response.json()
    assert body["private_address"] == ADDRESS
    assert body["video_link"] == VIDEO
    assert body["members"] == [
        {"name": "Frank O.", "role": "facilitator", "email": world.frank.email, "phone": None},
        {"name": "Bob Q.", "role": "member", "email": None, "phone": "+14155550102"},
        {"name": "Dave Z.", "role": "member", "email": None, "phone": None},
    ]
    unshared = [world.frank.phone, world.bob.email, world.dave.email, world.dave.phone]
    unshared += ["Oakenshield", "Quillfeather", "Zimmerwald"]
    assert [value for value in unshared if value in response.content.decode()] == []


def test_a_member_sees_nothing_private_of_other_circles(world: World) -> None:
    seen = everything_seen_by(world, world.bob)

    private = [HIDDEN_ADDRESS, HIDDEN_VIDEO, "9 Elsewhere Road", "hidden-circle"]
    private += world.secrets_of(world.ed, world.charlie)
    assert [value for value in private if value in seen] == []


def test_in_the_list_private_fields_are_on_the_members_own_circle_only(world: World) -> None:
    results = api(world.charlie).get(CIRCLES).json()["results"]

    by_slug = {circle["slug"]: circle for circle in results}
    assert set(by_slug) == {"brooklyn-tuesday", "elsewhere"}
    assert by_slug["elsewhere"]["private_address"] == "9 Elsewhere Road"
    assert [m["name"] for m in by_slug["elsewhere"]["members"]] == ["Charlie B."]
    assert {"private_address", "video_link", "members"}.isdisjoint(by_slug["brooklyn-tuesday"])


def test_the_shared_list_never_carries_one_mans_private_fields_to_another(world: World) -> None:
    """The public list is made once for everyone; each man's own circles are his alone."""
    assert api(None).get(CIRCLES).status_code == 200  # the shared page is made by a visitor
    for man, his, other in ((world.charlie, "elsewhere", "brooklyn-tuesday"),
                            (world.bob, "brooklyn-tuesday", "elsewhere")):  # fmt: skip
        by_slug = {c["slug"]: c for c in api(man).get(CIRCLES).json()["results"]}
        assert "members" in by_slug[his] and "private_address" in by_slug[his]
        assert {"private_address", "video_link", "members"}.isdisjoint(by_slug[other])
    assert "9 Elsewhere Road" not in api(None).get(CIRCLES).content.decode()


def test_the_list_shows_a_change_on_the_next_request(world: World) -> None:
    assert "Elsewhere" in api(None).get(CIRCLES).content.decode()
    world.elsewhere.name = "Somewhere New"
    world.elsewhere.save()
    names = [c["name"] for c in api(None).get(CIRCLES).json()["results"]]
    assert "Somewhere New" in names and "Elsewhere" not in names
    # and a man who joins sees his new circle in full at once
    member_of(world.elsewhere, "newman@example.com", "New Man", "+14155550109")
    newman = User.objects.get(email="newman@example.com")
    by_slug = {c["slug"]: c for c in api(newman).get(CIRCLES).json()["results"]}
    assert "New M." in [m["name"] for m in by_slug["elsewhere"]["members"]]


def test_a_paused_member_sees_only_the_public_circle(world: World) -> None:
    Membership.objects.filter(user=world.bob).update(status=Membership.Status.PAUSED)

    response = api(world.bob).get(circle_url("brooklyn-tuesday"))

    assert response.status_code == 200
    assert "members" not in response.json()
    assert ADDRESS not in response.content.decode()


# --- Unlisted and closed circles ------------------------------------------------------


@pytest.mark.parametrize("name", PERSONAS)
def test_an_unlisted_circle_is_a_404_like_a_missing_one_for_outsiders(
    world: World, name: str
) -> None:
    client = api(persona(world, name))

    hidden = client.get(circle_url("hidden-circle"))
    missing = client.get(circle_url("no-such-circle"))

    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)


def test_an_unlisted_circle_is_visible_to_its_active_members_only(world: World) -> None:
    response = api(world.ed).get(circle_url("hidden-circle"))

    assert response.status_code == 200
    assert response.json()["private_address"] == HIDDEN_ADDRESS
    assert "hidden-circle" not in api(world.ed).get(CIRCLES).content.decode()

    Membership.objects.filter(user=world.ed).update(status=Membership.Status.LEFT)

    assert api(world.ed).get(circle_url("hidden-circle")).status_code == 404


def test_a_closed_circle_leaves_the_list_but_its_public_page_stays(world: World) -> None:
    world.circle.status = Circle.Status.CLOSED
    world.circle.save(update_fields=["status"])

    listed = api().get(CIRCLES).json()["results"]
    detail = api().get(circle_url("brooklyn-tuesday"))

    assert [c["slug"] for c in listed] == ["elsewhere"]
    assert detail.status_code == 200
    assert detail.json()["status"] == "closed"


# --- Access control per persona -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sees_private", "meetings", "rsvp_status"),
    [
        ("anonymous", False, 401, 401),
        ("member", True, 200, 200),
        ("facilitator", True, 200, 200),
        ("outsider", False, 200, 404),
        ("staff", False, 200, 404),
        ("superuser", False, 200, 404),
    ],
)
def test_access_per_persona(
    world: World, name: str, sees_private: bool, meetings: int, rsvp_status: int
) -> None:
    user = persona(world, name)
    client = api(user)

    listed = client.get(CIRCLES)
    detail = client.get(circle_url("brooklyn-tuesday"))
    mine = client.get(MEETINGS)
    answered = client.post(rsvp_url(world.meeting.pk), {"response": "yes"}, format="json")

    assert listed.status_code == 200
    assert detail.status_code == 200
    assert ("members" in detail.json()) is sees_private
    assert mine.status_code == meetings
    if meetings == 200:
        ids = [m["id"] for m in mine.json()["results"]]
        assert ids == ([world.meeting.pk] if sees_private else [])
    assert answered.status_code == rsvp_status
    assert RSVP.objects.filter(meeting=world.meeting).count() == (1 if rsvp_status == 200 else 0)


def test_anonymous_is_asked_for_a_bearer_token(world: World) -> None:
    for response in (api().get(MEETINGS), rsvp(None, world.meeting.pk, {"response": "yes"})):
        assert response.status_code == 401
        assert response.json() == {"detail": "Authentication credentials were not provided."}
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_session_signed_in_member_uses_the_api(world: World) -> None:
    client = signed_in(world.bob)

    detail = client.get(circle_url("brooklyn-tuesday"))
    answered = client.post(
        rsvp_url(world.meeting.pk), {"response": "no"}, content_type="application/json"
    )
    mine = client.get(MEETINGS)

    assert detail.json()["private_address"] == ADDRESS
    assert answered.status_code == 200
    assert answered.json()["channel"] == "api"
    assert mine.json()["results"][0]["my_rsvp"] == "no"


def test_a_session_outsider_gets_no_more_than_with_a_token(world: World) -> None:
    client = signed_in(world.charlie)

    detail = client.get(circle_url("brooklyn-tuesday"))
    hidden = client.get(circle_url("hidden-circle"))
    answered = client.post(
        rsvp_url(world.meeting.pk), {"response": "yes"}, content_type="application/json"
    )

    assert "members" not in detail.json()
    assert hidden.status_code == 404
    assert answered.status_code == 404


# --- Meetings -------------------------------------------------------------------------


def test_my_meetings_are_my_circles_upcoming_ones_in_utc_with_my_answer(
    world: World, settings
) -> None:
    settings.TIME_ZONE = "America/New_York"  # the API speaks UTC regardless
    later = make_meeting(world.circle, in_days=10)
    cancelled = make_meeting(
        world.circle, in_days=5, status=Meeting.Status.CANCELLED, note="Snowed in."
    )
    make_meeting(world.circle, in_days=-7, status=Meeting.Status.HELD)  # over
    make_meeting(world.elsewhere, in_days=1)  # not his circle
    services.rsvp_set(meeting=world.meeting, user=world.bob, response="yes", channel="web")

    response = api(world.bob).get(MEETINGS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [m["id"] for m in body["results"]] == [world.meeting.pk, cancelled.pk, later.pk]
    assert body["results"][0] == {
        "id": world.meeting.pk,
        "circle": {"slug": "brooklyn-tuesday", "name": "Brooklyn Tuesday"},
        "starts_at": utc(world.meeting.starts_at),
        "ends_at": utc(world.meeting.ends_at),
        "status": "scheduled",
        "note": "Bring a candle.",
        "leader": "Frank O.",
        "my_rsvp": "yes",
    }
    assert body["results"][0]["starts_at"].endswith("Z")
    assert body["results"][1]["status"] == "cancelled"
    assert body["results"][2]["leader"] is None
    assert body["results"][2]["my_rsvp"] is None


def test_my_cached_meetings_follow_every_change_and_are_mine_alone(world: World) -> None:
    bob, frank = api(world.bob), api(world.frank)
    for _ in range(2):  # made, then from the cache
        assert bob.get(MEETINGS).json()["results"][0]["my_rsvp"] is None
        assert frank.get(MEETINGS).json()["results"][0]["my_rsvp"] is None
    assert (
        bob.post(rsvp_url(world.meeting.pk), {"response": "yes"}, format="json").status_code == 200
    )
    assert bob.get(MEETINGS).json()["results"][0]["my_rsvp"] == "yes"
    assert frank.get(MEETINGS).json()["results"][0]["my_rsvp"] is None  # his own answer, none

    later = make_meeting(world.circle, in_days=20)
    assert later.pk in [m["id"] for m in bob.get(MEETINGS).json()["results"]]
    # He joins another circle: its meetings are on his very next list.
    theirs = make_meeting(world.elsewhere, in_days=3)
    join(world.bob, world.elsewhere)
    assert theirs.pk in [m["id"] for m in bob.get(MEETINGS).json()["results"]]
    # He leaves: none of that circle's meetings is left on it.
    services.membership_leave(
        membership=Membership.objects.get(user=world.bob, circle=world.circle)
    )
    assert [m["id"] for m in bob.get(MEETINGS).json()["results"]] == [theirs.pk]


def test_meetings_are_paginated(world: World) -> None:
    start = timezone.now() + timedelta(days=1)
    Meeting.objects.bulk_create(
        Meeting(
            circle=world.circle,
            starts_at=start + timedelta(days=i),
            ends_at=start + timedelta(days=i, hours=1),
        )
        for i in range(55)
    )
    client = api(world.bob)

    first = client.get(MEETINGS).json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()

    assert "count" not in first
    assert len(first["results"]) == 50
    assert first["previous"] is None
    assert len(second["results"]) == 6
    assert second["next"] is None
    ids = [m["id"] for m in first["results"] + second["results"]]
    assert len(set(ids)) == 56
    assert [m["starts_at"] for m in first["results"] + second["results"]] == sorted(
        m["starts_at"] for m in first["results"] + second["results"]
    )
    assert back["results"] == first["results"]


# --- RSVP -----------------------------------------------------------------------------


def test_rsvp_records_the_answer_and_a_second_call_changes_it(world: World) -> None:
    first = rsvp(world.bob, world.meeting.pk, {"response": "yes"})

    assert first.status_code == 200
    body = first.json()
    saved = RSVP.objects.get()
    assert body == {
        "meeting": world.meeting.pk,
        "response": "yes",
        "channel": "api",
        "responded_at": utc(saved.responded_at),
    }
    assert (saved.user, saved.response, saved.channel) == (world.bob, "yes", "api")

    second = rsvp(world.bob, world.meeting.pk, {"response": "no"})

    assert second.status_code == 200
    assert second.json()["response"] == "no"
    assert RSVP.objects.count() == 1
    assert RSVP.objects.get().response == "no"


@pytest.mark.parametrize(
    "meeting_fields",
    [{"status": Meeting.Status.CANCELLED}, {"in_days": -1}, {"in_days": -0.01}],
    ids=["cancelled", "past", "under-way"],
)
def test_rsvp_for_a_closed_meeting_is_refused(world: World, meeting_fields: dict[str, Any]) -> None:
    closed = make_meeting(world.circle, **meeting_fields)

    response = rsvp(world.bob, closed.pk, {"response": "yes"})

    assert response.status_code == 400
    assert response.json() == {"detail": services.MEETING_CLOSED}
    assert not RSVP.objects.exists()


def test_rsvp_after_new_agreements_waits_for_acceptance(world: World) -> None:
    services.agreement_publish(circle=world.circle, text="Phones off, too.")

    refused = rsvp(world.bob, world.meeting.pk, {"response": "yes"})

    assert refused.status_code == 400
    assert refused.json() == {"detail": services.NEEDS_ACCEPTANCE}
    assert not RSVP.objects.exists()

    services.agreement_accept(user=world.bob, circle=world.circle, version=2)

    assert rsvp(world.bob, world.meeting.pk, {"response": "yes"}).status_code == 200


@pytest.mark.parametrize("name", ["outsider", "staff", "superuser"])
def test_rsvp_to_another_circles_meeting_is_a_404_like_a_missing_one(
    world: World, name: str
) -> None:
    user = persona(world, name)

    other = rsvp(user, world.meeting.pk, {"response": "yes"})
    badly = rsvp(user, world.meeting.pk, {"response": "maybe"})  # no hint it exists
    missing = rsvp(user, 999_999, {"response": "yes"})

    assert (other.status_code, other.json()) == (404, NOT_FOUND)
    assert (badly.status_code, badly.json()) == (404, NOT_FOUND)
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)
    assert not RSVP.objects.exists()


def test_rsvp_by_a_member_who_left_or_paused_is_a_404(world: World) -> None:
    Membership.objects.filter(user=world.bob).update(status=Membership.Status.PAUSED)
    Membership.objects.filter(user=world.dave).update(status=Membership.Status.LEFT)

    for man in (world.bob, world.dave):
        assert rsvp(man, world.meeting.pk, {"response": "yes"}).status_code == 404
    assert not RSVP.objects.exists()


def test_rsvp_to_a_meeting_id_beyond_any_integer_is_a_404(world: World) -> None:
    response = rsvp(world.bob, 10**30, {"response": "yes"})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"response": "maybe"},
        {"response": "YES"},
        {"response": None},
        {"response": ["yes"]},
        {"answer": "yes"},
        ["yes"],
        "yes",
        '{"response": "yes"',
        "",
    ],
    ids=[
        "empty",
        "maybe",
        "upper-case",
        "null",
        "list-value",
        "wrong-key",
        "json-list",
        "json-string",
        "malformed",
        "no-body",
    ],
)
def test_a_bad_rsvp_body_is_a_400_naming_response_and_changes_nothing(
    world: World, body: Any
) -> None:
    client = api(world.bob)
    if isinstance(body, str) and body != "yes":
        response = client.post(rsvp_url(world.meeting.pk), body, content_type="application/json")
    else:
        response = client.post(rsvp_url(world.meeting.pk), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["response"]
    assert all(isinstance(message, str) for message in response.json()["response"])
    assert not RSVP.objects.exists()


def test_an_rsvp_form_post_works_too(world: World) -> None:
    response = api(world.bob).post(rsvp_url(world.meeting.pk), {"response": "yes"})

    assert response.status_code == 200
    assert RSVP.objects.get().response == "yes"


# --- Filters and pagination -----------------------------------------------------------


@pytest.fixture
def variety(db: None) -> dict[str, Circle]:
    full = make_circle(slug="full", name="Full", capacity=2, weekday=4)
    for n in range(2):
        join(make_user(f"full{n}@example.com"), full)
    return {
        "monday-online": make_circle(
            slug="monday-online", name="A", weekday=0, location_kind="online"
        ),
        "monday-hybrid": make_circle(
            slug="monday-hybrid", name="B", weekday=0, location_kind="hybrid"
        ),
        "tuesday-room": make_circle(slug="tuesday-room", name="C", weekday=1),
        "full": full,
        "closed": make_circle(slug="closed", name="D", status=Circle.Status.CLOSED),
        "unlisted": make_circle(slug="unlisted", name="E", is_listed=False),
    }


def slugs(query: str) -> list[str]:
    response = api().get(f"{CIRCLES}?{query}")
    assert response.status_code == 200, response.content
    return [circle["slug"] for circle in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["monday-online", "monday-hybrid", "tuesday-room", "full"]),
        ("weekday=0", ["monday-online", "monday-hybrid"]),
        ("weekday=", ["monday-online", "monday-hybrid", "tuesday-room", "full"]),
        ("kind=online", ["monday-online", "monday-hybrid"]),
        ("kind=in_person", ["monday-hybrid", "tuesday-room", "full"]),
        ("open_seats=true", ["monday-online", "monday-hybrid", "tuesday-room"]),
        ("open_seats=false", ["monday-online", "monday-hybrid", "tuesday-room", "full"]),
        ("weekday=0&kind=in_person", ["monday-hybrid"]),
        ("weekday=4&open_seats=true", []),
    ],
)
def test_the_list_filters_like_the_directory(
    variety: dict[str, Circle], query: str, expected: list[str]
) -> None:
    assert slugs(query) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("weekday=7", "weekday"),
        ("weekday=-1", "weekday"),
        ("weekday=monday", "weekday"),
        ("kind=hybrid", "kind"),
        ("kind=ONLINE", "kind"),
        ("open_seats=maybe", "open_seats"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(
    variety: dict[str, Circle], query: str, parameter: str
) -> None:
    response = api().get(f"{CIRCLES}?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_the_list_is_paginated_by_fifty(db: None) -> None:
    Circle.objects.bulk_create(
        Circle(name=f"Circle {n:02}", slug=f"c-{n:02}", weekday=n % 7, start_time=time(19))
        for n in range(55)
    )

    first = api().get(CIRCLES).json()
    second = api().get(first["next"]).json()

    assert set(first) == {"next", "previous", "results"}
    assert first["previous"] is None
    assert [c["slug"] for c in first["results"]] == [f"c-{n:02}" for n in range(50)]
    assert [c["slug"] for c in second["results"]] == [f"c-{n:02}" for n in range(50, 55)]
    assert second["next"] is None


# --- A fixed number of queries -------------------------------------------------------


def queries(client: APIClient | Client, method: str, url: str, **kwargs: Any) -> dict[str, int]:
    with capture_all_queries() as captured:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 200, response.content
    return {alias: len(capture) for alias, capture in captured.items()}


def grow(world: World) -> Meeting:
    """Many more circles, men, meetings and answers; returns a fresh meeting for bob."""
    now = timezone.now()
    men = User.objects.bulk_create(
        User(email=f"man{n}@example.com", full_name=f"Man Number{n}") for n in range(120)
    )
    circles = Circle.objects.bulk_create(
        Circle(name=f"Grown {n:02}", slug=f"grown-{n:02}", weekday=n % 7, start_time=time(19))
        for n in range(40)
    )
    rows = []
    for i, circle in enumerate(circles):
        for j in range(3):
            role = Membership.Role.FACILITATOR if j == 0 else Membership.Role.MEMBER
            rows.append(Membership(circle=circle, user=men[3 * i + j], role=role, status="active"))
    rows += [
        Membership(circle=circles[n], user=world.bob, status="active", joined_at=now)
        for n in range(5)
    ]
    rows += [
        Membership(circle=world.circle, user=man, status="active", share_email=True)
        for man in men[:20]
    ]
    Membership.objects.bulk_create(rows)
    meetings = Meeting.objects.bulk_create(
        Meeting(
            circle=circle,
            starts_at=now + timedelta(days=d + 1),
            ends_at=now + timedelta(days=d + 1, hours=1),
            leader=world.frank,
        )
        for circle in [world.circle, *circles[:5]]
        for d in range(8)
    )
    RSVP.objects.bulk_create(RSVP(meeting=m, user=world.bob, response="yes") for m in meetings[1:])
    return meetings[0]


def test_each_endpoint_makes_the_same_queries_for_a_little_and_a_lot_of_data(
    world: World,
) -> None:
    jwt, session, anonymous = api(world.bob), signed_in(world.bob), api()
    requests: list[tuple[Any, str, str]] = [
        (anonymous, "get", CIRCLES),
        (jwt, "get", CIRCLES),
        (session, "get", CIRCLES),
        (anonymous, "get", circle_url("brooklyn-tuesday")),
        (jwt, "get", circle_url("brooklyn-tuesday")),
        (session, "get", circle_url("brooklyn-tuesday")),
        (jwt, "get", MEETINGS),
        (session, "get", MEETINGS),
    ]

    def cold(client: Any, method: str, url: str, **kwargs: Any) -> dict[str, int]:
        cache.delete_pattern("*")  # each made from nothing cached: the cache is tested elsewhere
        return queries(client, method, url, **kwargs)

    little = [cold(client, method, url) for client, method, url in requests]
    little.append(cold(jwt, "post", rsvp_url(world.meeting.pk), data={"response": "yes"}))

    fresh = grow(world)
    a_lot = [cold(client, method, url) for client, method, url in requests]
    a_lot.append(cold(jwt, "post", rsvp_url(fresh.pk), data={"response": "yes"}))

    assert a_lot == little
    assert len(api(world.bob).get(MEETINGS).json()["results"]) == 49  # the data did grow
    assert len(api(world.bob).get(circle_url("brooklyn-tuesday")).json()["members"]) == 23


# --- Schema ---------------------------------------------------------------------------


def test_the_circle_endpoints_are_in_the_schema_without_warnings(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    complaints = capsys.readouterr().err
    assert "Warning" not in complaints
    assert "Error" not in complaints
    schema = response.json()
    paths = schema["paths"]
    assert "get" in paths[CIRCLES]
    assert "get" in paths["/api/v1/circles/{slug}/"]
    assert "get" in paths[MEETINGS]
    assert "post" in paths["/api/v1/meetings/{id}/rsvp/"]
    assert {p["name"] for p in paths[CIRCLES]["get"]["parameters"]} == {
        "q",
        "weekday",
        "kind",
        "open_seats",
        "time_zone",
        "cursor",
    }
    assert {p["name"] for p in paths[MEETINGS]["get"]["parameters"]} == {"cursor"}
    page = schema["components"]["schemas"]["PaginatedCircleList"]
    assert set(page["properties"]) == {"next", "previous", "results"}
    assert "404" in paths[CIRCLES]["get"]["responses"]
    circle = schema["components"]["schemas"]["Circle"]
    members_only = {"private_address", "video_link", "members"}
    assert members_only <= set(circle["properties"])
    assert members_only.isdisjoint(circle["required"])
    assert set(schema["components"]["schemas"]["Member"]["properties"]) == {
        "name",
        "role",
        "email",
        "phone",
    }
