"""True attendance: only the men who were members when a meeting started, nothing
written by opening a page, one grid per meeting with one save, and reports that
count only meetings since each man joined.

Personas: Al facilitates Alder, Ben facilitates Birch (an outsider to Alder),
Member Alderman is a plain member of Alder, and the anonymous visitor.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts.models import User
from circles import attendance, exports, services
from circles.admin_views import attendance_points
from circles.models import RSVP, Attendance, Circle, Meeting, Membership
from circles.services import CircleError
from tests.circles.conftest import join, make_meeting, make_verified
from tests.circles.test_admin_access import World, make_world
from tests.conftest import capture_all_queries, signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

PRESENT, EXCUSED, UNEXCUSED = "present", "excused", "unexcused"


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def grid_url(meeting: Meeting) -> str:
    return f"/admin/circles/meeting/{meeting.pk}/attendance/"


def roster_url(circle: Circle) -> str:
    return f"/admin/circles/circle/{circle.pk}/roster/"


def newcomer(circle: Circle, email: str = "nick@example.com") -> User:
    """A man who asked, was approved just now, and so joined after every past meeting."""
    user = make_verified(email, full_name="Nick Newcomer")
    Membership.objects.create(
        circle=circle,
        user=user,
        status=Membership.Status.ACTIVE,
        requested_at=timezone.now() - timedelta(hours=2),
        joined_at=timezone.now(),
    )
    return user


def circles_rows() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_app_config("circles").get_models()
    }


WRITE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\b.*"circles_', re.IGNORECASE | re.DOTALL)


# --- The man who joined after three meetings ----------------------------------------------


def test_a_man_who_joined_after_three_held_meetings_is_not_at_risk_and_has_no_rows(
    world: World, al: Client
) -> None:
    circle = world.a.circle
    held = [
        make_meeting(circle, in_days=-7 * weeks, status=Meeting.Status.HELD) for weeks in (3, 2)
    ]
    meetings = [*held, world.a.meeting]  # three held meetings, the last a week ago
    nick = newcomer(circle)

    # The facilitator opens every meeting's pages and takes attendance with one save each.
    for meeting in meetings:
        assert al.get(f"/admin/circles/meeting/{meeting.pk}/change/").status_code == 200
        page = al.get(grid_url(meeting))
        assert b"Nick Newcomer" not in page.content
        fields = {f"m{m.user_id}": UNEXCUSED for m in page.context["form"].memberships}
        # A forged mark for him is not a field of the form: it is ignored.
        response = al.post(grid_url(meeting), {**fields, f"m{nick.pk}": UNEXCUSED})
        assert response.status_code == 302
        services.attendance_prefill(meeting=meeting)  # the demo's and tests' shortcut too

    assert not Attendance.objects.filter(user=nick).exists()
    # Everyone else who was a member then is marked.
    assert Attendance.objects.filter(meeting__in=meetings, user=world.a.member).count() == 3
    report = al.get("/admin/circles/circle/at-risk/")
    drifting = report.content.decode().split("Drifting away")[1].split("Waiting for")[0]
    assert "Nick Newcomer" not in drifting
    assert "Member Alderman" in drifting  # three unexcused: the page does name the drifting


def test_rows_from_before_he_joined_count_nowhere(world: World, al: Client) -> None:
    """Rows written before the fix (or by hand) are not misses, not in the CSV or chart."""
    circle = world.a.circle
    meetings = [
        make_meeting(circle, in_days=-7 * weeks, status=Meeting.Status.HELD) for weeks in (3, 2)
    ]
    nick = newcomer(circle)
    for meeting in [*meetings, world.a.meeting]:
        Attendance.objects.create(meeting=meeting, user=nick, status=UNEXCUSED)
    late = make_verified("late@example.com", full_name="Larry Late")
    Attendance.objects.create(meeting=world.a.meeting, user=late, status=PRESENT)
    Membership.objects.create(
        circle=circle, user=late, status=Membership.Status.ACTIVE, joined_at=timezone.now()
    )

    report = al.get("/admin/circles/circle/at-risk/").content.decode()
    assert "Nick Newcomer" not in report
    rows = list(
        csv.reader(
            io.StringIO(
                al.get(f"/admin/circles/circle/{circle.pk}/attendance.csv").content.decode()
            )
        )
    )
    assert [r[1] for r in rows[1:]] == ["Member A."]
    # Member Alderman present a week ago; Larry's row from before he joined is not counted.
    assert [p.present for p in attendance_points(circle)] == [0, 0, 1]
    assert exports.attendance(nick) == []


# --- Opening any page writes nothing -------------------------------------------------------


def admin_get_urls(world: World) -> list[str]:
    """Every page of every circles model admin, with an object of Alder where one is named."""
    side = world.a
    objects = {
        Circle: side.circle,
        Membership: side.request,
        Meeting: side.meeting,
        type(side.agreement): side.agreement,
        type(side.note): side.note,
    }
    urls = ["/admin/", "/admin/circles/"]
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "circles":
            continue
        base = f"/admin/circles/{model._meta.model_name}/"
        obj = objects.get(model)
        for pattern in model_admin.get_urls():
            route = str(pattern.pattern)
            if "<" in route.replace("<path:object_id>", ""):
                continue
            if "<path:object_id>" in route:
                if obj is None:
                    continue
                route = route.replace("<path:object_id>", str(obj.pk))
            urls.append(base + route)
    return urls


def test_opening_any_circles_admin_page_writes_nothing(world: World, al: Client) -> None:
    # A past meeting nobody took attendance for: the page once prefilled it on opening.
    untaken = make_meeting(world.a.circle, in_days=-2)
    RSVP.objects.create(meeting=untaken, user=world.a.member, response="no")
    urls = [
        *admin_get_urls(world),
        grid_url(untaken),
        f"/admin/circles/meeting/{untaken.pk}/change/",
    ]
    assert f"/admin/circles/meeting/{world.a.meeting.pk}/attendance/" in urls
    assert f"/admin/circles/circle/{world.a.circle.pk}/roster/" in urls
    before = circles_rows()

    al.raise_request_exception = False  # a page he may not use answers 403, as in production
    with capture_all_queries() as captured:
        statuses = {url: al.get(url).status_code for url in urls}

    assert set(statuses.values()) <= {200, 302, 403}, statuses
    assert statuses[grid_url(untaken)] == 200

    writes = [
        q["sql"]
        for context in captured.values()
        for q in context.captured_queries
        if WRITE.match(q["sql"])
    ]
    assert writes == []
    assert circles_rows() == before


# --- The grid ------------------------------------------------------------------------------


def test_the_grid_lists_who_was_a_member_then_prefilled_from_rsvps(
    world: World, al: Client
) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=-1)
    RSVP.objects.create(
        meeting=meeting,
        user=a.member,
        response="no",
        responded_at=meeting.starts_at - timedelta(days=1),
    )
    RSVP.objects.create(meeting=meeting, user=a.facilitator, response="yes")
    waiting = make_verified("wait@example.com", full_name="Walt Waitlisted")
    Membership.objects.create(circle=a.circle, user=waiting, status=Membership.Status.WAITLISTED)
    nick = newcomer(a.circle)
    gone = make_verified("gone@example.com", full_name="Gus Gone")
    Membership.objects.create(
        circle=a.circle,
        user=gone,
        status=Membership.Status.LEFT,
        joined_at=meeting.starts_at - timedelta(days=60),
        left_at=meeting.starts_at + timedelta(hours=3),  # left after this meeting
    )

    response = al.get(grid_url(meeting))

    assert response.status_code == 200
    form = response.context["form"]
    names = [m.user.get_full_name() for m in form.memberships]
    assert names == ["Fac Alder", "Gus Gone", "Member Alderman"]
    assert form[f"m{a.member.pk}"].initial == EXCUSED
    assert form[f"m{a.facilitator.pk}"].initial == PRESENT
    assert form[f"m{gone.pk}"].initial is None
    html = response.content.decode()
    for outsider in ("Asker Alderson", "Walt Waitlisted", nick.full_name):
        assert outsider not in html
    assert 'type="radio"' in html and 'value="Save attendance"' in html
    assert not meeting.attendance.exists()  # nothing written by looking


def test_one_save_writes_every_mark(world: World, al: Client) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=-1)

    response = al.post(
        grid_url(meeting), {f"m{a.member.pk}": EXCUSED, f"m{a.facilitator.pk}": PRESENT}
    )

    assert response.status_code == 302 and response["Location"] == grid_url(meeting)
    rows = dict(meeting.attendance.values_list("user__full_name", "status"))
    assert rows == {"Member Alderman": EXCUSED, "Fac Alder": PRESENT}
    page = al.get(grid_url(meeting))
    assert "Attendance saved for 2 of 2 men." in page.content.decode()
    # Changing one mark later updates his row, not a second one.
    al.post(grid_url(meeting), {f"m{a.member.pk}": PRESENT, f"m{a.facilitator.pk}": PRESENT})
    assert dict(meeting.attendance.values_list("user_id", "status")) == {
        a.member.pk: PRESENT,
        a.facilitator.pk: PRESENT,
    }


def test_a_bad_mark_is_refused_and_nothing_is_written(world: World, al: Client) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=-1)

    response = al.post(
        grid_url(meeting), {f"m{a.member.pk}": "maybe", f"m{a.facilitator.pk}": PRESENT}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not meeting.attendance.exists()


def test_attendance_waits_for_the_meeting_to_start(world: World, al: Client) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=2)

    page = al.get(grid_url(meeting))
    response = al.post(grid_url(meeting), {f"m{a.member.pk}": PRESENT})

    assert attendance.NOT_STARTED in page.content.decode()
    assert 'value="Save attendance"' not in page.content.decode()
    assert response.status_code == 200
    assert attendance.NOT_STARTED in response.content.decode()
    assert not meeting.attendance.exists()


def test_the_service_refuses_a_man_who_was_not_a_member_and_writes_nothing(world: World) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=-1)
    nick = newcomer(a.circle)

    with pytest.raises(CircleError, match=attendance.NOT_EXPECTED):
        attendance.attendance_save(
            meeting=meeting, marks={a.member.pk: PRESENT, a.request.user_id: PRESENT}
        )
    with pytest.raises(CircleError, match=attendance.NOT_EXPECTED):
        attendance.attendance_save(meeting=meeting, marks={nick.pk: PRESENT})

    assert not meeting.attendance.exists()


def test_a_wrong_row_can_be_removed_and_only_this_meetings(world: World, al: Client) -> None:
    a, b = world.a, world.b
    nick = newcomer(a.circle)
    wrong = Attendance.objects.create(meeting=a.meeting, user=nick, status=UNEXCUSED)
    asker = Attendance.objects.create(meeting=a.meeting, user=a.request.user, status=PRESENT)
    birch_row = Attendance.objects.get(meeting=b.meeting)
    right = Attendance.objects.get(meeting=a.meeting, user=a.member)

    page = al.get(grid_url(a.meeting)).content.decode()
    assert "Nick Newcomer: Unexcused absence (not a member when the meeting started)" in page
    response = al.post(grid_url(a.meeting), {"remove": [wrong.pk], f"m{a.member.pk}": PRESENT})
    forged = al.post(grid_url(a.meeting), {"remove": [birch_row.pk, right.pk]})

    assert response.status_code == 302
    assert not Attendance.objects.filter(pk=wrong.pk).exists()
    assert Attendance.objects.filter(pk=asker.pk).exists()  # not ticked, kept
    assert forged.status_code == 200
    assert "Select a valid choice" in forged.content.decode()
    assert Attendance.objects.filter(pk__in=[birch_row.pk, right.pk]).count() == 2


def test_the_inline_never_offers_a_man_who_only_asked(world: World, al: Client) -> None:
    a = world.a
    nick = newcomer(a.circle)

    page = al.get(f"/admin/circles/meeting/{a.meeting.pk}/change/").content.decode()

    html = page.split('id="attendance-group"')[1]
    assert f'<option value="{a.member.pk}"' in html
    assert f'<option value="{a.request.user_id}"' not in html
    assert f'<option value="{nick.pk}"' not in html


# --- Who may open the grid and the roster --------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_members_and_visitors_are_sent_to_the_admin_sign_in(world: World, who: str) -> None:
    client = Client() if who == "anonymous" else signed_in(world.a.member)
    meeting = make_meeting(world.a.circle, in_days=-1)

    for url in (grid_url(meeting), roster_url(world.a.circle)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.post(grid_url(meeting), {f"m{world.a.member.pk}": PRESENT})
    assert response.status_code == 302
    assert not meeting.attendance.exists()


def test_another_circles_facilitator_gets_not_found(world: World) -> None:
    ben = signed_in(world.b.facilitator)
    meeting = make_meeting(world.a.circle, in_days=-1)

    assert ben.get(grid_url(meeting)).status_code == 404
    assert ben.get(roster_url(world.a.circle)).status_code == 404
    assert ben.post(grid_url(meeting), {f"m{world.a.member.pk}": PRESENT}).status_code == 404
    assert not meeting.attendance.exists()


def test_the_grid_is_linked_from_the_meeting_list_and_pages_and_the_circle(
    world: World, al: Client
) -> None:
    a = world.a
    future = make_meeting(a.circle, in_days=3)
    link = f'href="{grid_url(a.meeting)}"'

    assert link in al.get("/admin/circles/meeting/").content.decode()
    assert link in al.get(f"/admin/circles/meeting/{a.meeting.pk}/change/").content.decode()
    circle_page = al.get(f"/admin/circles/circle/{a.circle.pk}/change/").content.decode()
    assert link in circle_page
    assert f'href="{roster_url(a.circle)}"' in circle_page
    # Not yet for a meeting still to come.
    assert grid_url(future) not in al.get("/admin/circles/meeting/").content.decode()


# --- Names, who's coming, the roster -------------------------------------------------------


def test_leaders_and_members_show_by_name_not_email(world: World, al: Client) -> None:
    a = world.a
    Meeting.objects.filter(pk=a.meeting.pk).update(leader=a.member)

    meetings = al.get("/admin/circles/meeting/").content.decode()
    # The row's checkbox is labelled by the row's str(), its email address: account
    # deletion finds him in the admin log by it (accounts.erasure). The columns show names.
    members = re.sub(
        r'aria-label="[^"]*"', "", al.get("/admin/circles/membership/").content.decode()
    )
    form = al.get(f"/admin/circles/meeting/{a.meeting.pk}/change/").content.decode()

    assert "Member Alderman" in meetings and a.member.email not in meetings
    assert "Member Alderman" in members and a.member.email not in members
    leader_select = form.split('name="leader"')[1].split("</select>")[0]
    assert "Member Alderman" in leader_select and a.member.email not in leader_select


def test_whos_coming_by_name_on_the_meeting_page(world: World, al: Client) -> None:
    a = world.a
    meeting = make_meeting(a.circle, in_days=3)
    said_no = make_verified("no@example.com", full_name="Ned Nope")
    join(said_no, a.circle)
    services_rsvp = [(a.member, "yes"), (said_no, "no")]
    for user, response in services_rsvp:
        RSVP.objects.create(meeting=meeting, user=user, response=response)

    html = al.get(f"/admin/circles/meeting/{meeting.pk}/change/").content.decode()

    def names(css: str) -> list[str]:
        block = html.split(f'<ul class="{css}">')[1].split("</ul>")[0]
        return re.findall(r"<li>([^<]+)</li>", block)

    assert names("rsvp-yes") == ["Member Alderman"]
    assert names("rsvp-no") == ["Ned Nope"]
    assert names("rsvp-none") == ["Fac Alder"]
    assert "Asker Alderson" not in html


def test_the_roster_prints_names_and_only_shared_contact_details(world: World, al: Client) -> None:
    a = world.a
    sharer = make_verified("share@example.com", full_name="Sam Sharer", phone="+14155550188")
    join(sharer, a.circle, share_email=True, share_phone=True)
    Membership.objects.filter(user=a.member).update(share_email=False, share_phone=False)
    User.objects.filter(pk=a.member.pk).update(phone="+14155550199")

    response = al.get(roster_url(a.circle))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Sam Sharer" in html and "share@example.com" in html and "+14155550188" in html
    assert "Member Alderman" in html
    assert a.member.email not in html and "+14155550199" not in html
    assert "Asker Alderson" not in html  # asked, not a member
    assert "css/admin-circle.css" in html  # its print rules


# --- The repair migration, from the old state ----------------------------------------------


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_migration_removes_rows_from_before_each_man_joined() -> None:
    executor = MigrationExecutor(connection)
    before = [("circles", "0004_circle_week_fields")]
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        OldCircle = old.get_model("circles", "Circle")
        OldMembership = old.get_model("circles", "Membership")
        OldMeeting = old.get_model("circles", "Meeting")
        OldAttendance = old.get_model("circles", "Attendance")
        now = timezone.now()
        circle = OldCircle.objects.create(
            name="Old", slug="old", weekday=1, start_time="19:00", time_zone="UTC"
        )
        # Accounts' tables are as they are now: only the circles migration is undone.
        early = make_verified("early@example.com", full_name="Early")
        late = make_verified("late@example.com", full_name="Late")
        for user, joined in ((early, now - timedelta(days=60)), (late, now - timedelta(days=10))):
            OldMembership.objects.create(
                circle=circle, user_id=user.pk, status="active", joined_at=joined
            )
        meetings = [
            OldMeeting.objects.create(
                circle=circle,
                starts_at=now - timedelta(days=d),
                ends_at=now - timedelta(days=d) + timedelta(hours=1),
            )
            for d in (21, 14, 7)
        ]
        for meeting in meetings:
            for user in (early, late):
                OldAttendance.objects.create(meeting=meeting, user_id=user.pk, status="unexcused")
        OldAttendance.objects.create(meeting=meetings[0], user=None, status="present")

        executor = MigrationExecutor(connection)
        executor.migrate(latest)

        kept = sorted(
            (row.meeting.starts_at < now - timedelta(days=10), row.user_id or 0)
            for row in Attendance.objects.select_related("meeting")
        )
        assert kept == sorted(
            [(True, early.pk)] * 2 + [(False, early.pk), (False, late.pk), (True, 0)]
        )
    finally:
        MigrationExecutor(connection).migrate(latest)
