"""The sharing form writes two columns, never the membership it read.

A real interleaving on PostgreSQL (tests/races.py): the sharing request has
read his active membership and waits for the row; meanwhile he leaves the
circle in another tab. The sharing save must not write the membership back
as it read it (active, a seat held again).
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import transaction

from accounts.models import User
from circles import services
from circles.models import Circle, Membership
from tests.conftest import signed_in
from tests.races import Worker, parked

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_a_sharing_save_racing_leaving_the_circle_does_not_bring_him_back(
    circle: Circle, circle_member: User, facilitator: User
) -> None:
    client = signed_in(circle_member)
    mine = Membership.objects.get(user=circle_member, circle=circle)

    with transaction.atomic():
        Membership.objects.select_for_update().get(pk=mine.pk)
        saving = Worker(
            lambda: client.post("/circles/brooklyn-tuesday/sharing/", {"share_email": "on"})
        )
        assert parked("default", "circles_membership", saving)
        services.membership_leave(membership=mine)  # his other tab
    response = saving.join()

    assert response.status_code == 302
    assert [m.message for m in get_messages(response.wsgi_request)] == [services.NOT_A_MEMBER]
    mine.refresh_from_db()
    assert mine.status == Membership.Status.LEFT
    assert mine.left_at is not None
    assert not mine.share_email


def test_sharing_writes_only_its_two_columns(circle: Circle, circle_member: User) -> None:
    mine = Membership.objects.get(user=circle_member, circle=circle)
    stale = Membership.objects.get(pk=mine.pk)
    Membership.objects.filter(pk=mine.pk).update(role=Membership.Role.CO_FACILITATOR)

    services.membership_sharing_set(membership=stale, share_email=True, share_phone=True)

    mine.refresh_from_db()
    assert (mine.share_email, mine.share_phone) == (True, True)
    assert mine.role == Membership.Role.CO_FACILITATOR  # not written back as read
