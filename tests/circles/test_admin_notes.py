"""Facilitator notes live in `creds` and are read only by their author (and superusers)."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client

from circles.models import FacilitatorNote, Membership
from tests.circles.test_admin_access import World, make_facilitator, make_world
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(databases="__all__")

NOTES = "/admin/circles/facilitatornote/"


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def al(world: World) -> Client:
    return signed_in(world.a.facilitator)


def test_a_facilitator_adds_a_note_about_his_member(world: World, al: Client) -> None:
    a = world.a

    form = al.get(f"{NOTES}add/").content.decode()
    response = al.post(
        f"{NOTES}add/", {"circle": a.circle.pk, "member": a.member.pk, "text": "Grieving."}
    )

    assert response.status_code == 302
    note = FacilitatorNote.objects.get(text="Grieving.")
    assert (note.author_id, note.member_id, note.circle_id) == (
        a.facilitator.pk,
        a.member.pk,
        a.circle.pk,
    )
    assert FacilitatorNote.objects.db == "creds"
    assert "circles_facilitatornote" not in connections["default"].introspection.table_names()
    # The choices are his circle and its members only.
    assert "Member Alderman" in form and "Alder Circle" in form
    assert "Birch" not in form


@pytest.mark.parametrize(
    "pick",
    [
        {"circle": "b", "member": "b"},  # another circle
        {"circle": "a", "member": "b"},  # someone from another circle under his own
        {"circle": "b", "member": "a"},
    ],
)
def test_he_cannot_write_a_note_outside_his_circles(
    world: World, al: Client, pick: dict[str, str]
) -> None:
    side = {"a": world.a, "b": world.b}
    data = {
        "circle": side[pick["circle"]].circle.pk,
        "member": side[pick["member"]].member.pk,
        "text": "Out of bounds",
    }

    response = al.post(f"{NOTES}add/", data)

    assert response.status_code == 200
    assert not FacilitatorNote.objects.filter(text="Out of bounds").exists()


def test_his_note_list_shows_only_his_notes(world: World, al: Client) -> None:
    page = al.get(NOTES).content.decode()

    assert "Alder private note" in page
    assert "Member Alderman" in page
    assert "Birch private note" not in page


def test_another_facilitators_note_is_404_by_any_url(world: World, al: Client) -> None:
    note = world.b.note

    for page in ("change", "delete", "history"):
        assert al.get(f"{NOTES}{note.pk}/{page}/").status_code == 404
    assert al.post(f"{NOTES}{note.pk}/change/", {"text": "Mine now"}).status_code == 404
    assert al.post(f"{NOTES}{note.pk}/delete/", {"post": "yes"}).status_code == 404
    al.post(NOTES, {"action": "delete_selected", "_selected_action": [note.pk], "post": "yes"})

    note.refresh_from_db()
    assert note.text == "Birch private note"


def test_his_co_facilitator_cannot_read_his_notes_either(world: World) -> None:
    co = make_facilitator("co-a@example.com", "Co Alder", world.a.circle, role="co_facilitator")
    client = signed_in(co)

    assert "Alder private note" not in client.get(NOTES).content.decode()
    assert client.get(f"{NOTES}{world.a.note.pk}/change/").status_code == 404


def test_he_edits_and_deletes_his_own_note(world: World, al: Client) -> None:
    note = world.a.note

    page = al.get(f"{NOTES}{note.pk}/change/")
    changed = al.post(
        f"{NOTES}{note.pk}/change/",
        {"circle": note.circle_id, "member": note.member_id, "text": "Doing better."},
    )
    deleted = al.post(f"{NOTES}{note.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert "Alder private note" in page.content.decode()
    assert changed.status_code == 302
    assert deleted.status_code == 302
    assert not FacilitatorNote.objects.filter(pk=note.pk).exists()


def test_a_superuser_reads_every_note(world: World) -> None:
    client = signed_in(world.superuser)

    page = client.get(NOTES).content.decode()

    assert "Alder private note" in page and "Birch private note" in page
    assert "Fac Birch" in page  # the author column
    assert client.get(f"{NOTES}{world.b.note.pk}/change/").status_code == 200


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_anonymous_and_members_are_sent_to_sign_in_for_notes(world: World, who: str) -> None:
    client = Client() if who == "anonymous" else signed_in(world.a.member)

    for url in (NOTES, f"{NOTES}add/", f"{NOTES}{world.a.note.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_a_note_about_a_member_who_asked_to_join_is_allowed(world: World, al: Client) -> None:
    asker = world.a.request

    response = al.post(
        f"{NOTES}add/",
        {"circle": asker.circle_id, "member": asker.user_id, "text": "Called him."},
    )

    assert response.status_code == 302
    assert asker.status == Membership.Status.REQUESTED
    assert FacilitatorNote.objects.filter(member_id=asker.user_id, text="Called him.").exists()
