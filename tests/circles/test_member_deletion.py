from __future__ import annotations

import pytest

from accounts import services as account_services
from accounts.models import User
from circles import services
from circles.models import Attendance, CalendarFeed, Circle, FacilitatorNote
from tests.circles.conftest import make_meeting
from tests.secrets_scan import find_in_database

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_deleted_member_leaves_only_anonymous_attendance_counts(
    circle: Circle, facilitator: User, circle_member: User
) -> None:
    meeting = make_meeting(circle, in_days=-7)
    services.attendance_prefill(meeting=meeting)
    Attendance.objects.filter(meeting=meeting).update(status="present")
    services.calendar_feed_create(user=circle_member)
    FacilitatorNote.objects.create(
        author_id=facilitator.pk, member_id=circle_member.pk, circle_id=circle.pk, text="Ben M."
    )

    account_services.user_delete(user=circle_member)

    assert meeting.attendance.filter(status="present").count() == 2
    assert meeting.attendance.filter(user__isnull=True).count() == 1
    pii = ["ben@example.com", "Ben Member", "+14155550123"]
    assert find_in_database("default", pii) == []
    assert find_in_database("creds", pii) == []
    assert not CalendarFeed.objects.filter(user_id=circle_member.pk).exists()
    assert not FacilitatorNote.objects.filter(member_id=circle_member.pk).exists()
