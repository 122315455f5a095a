"""The organisers' admin world: who runs which event, and the men registered.

- Oak retreat: organised by Olly (staff, "Organisers" group); Bob is registered
  and has answered its questions, Wes is on its waitlist, Carl cancelled.
- Pine evening: organised by Otto, another organiser; Pat is registered.
- Alder day out: Alder circle's event, run by its facilitator Al; Ben
  facilitates Birch, another circle. Ada (an Alder member) is registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group

from accounts.models import User
from circles.models import Circle
from events.models import Answer, Event, Question, Registration
from tests.circles.conftest import join, make_circle, make_verified
from tests.conftest import PASSWORD
from tests.events.conftest import add_question, make_event, make_organiser, register_directly

FORMULA = '=HYPERLINK("http://evil.example","click")'


def make_circle_facilitator(email: str, name: str, circle: Circle) -> User:
    user = make_verified(email, full_name=name, is_staff=True)
    user.groups.add(Group.objects.get(name="Facilitators"))
    join(user, circle, role="facilitator")
    return user


@dataclass
class World:
    oak: Event
    pine: Event
    alder_event: Event
    alder: Circle
    olly: User  # organises Oak
    otto: User  # organises Pine
    al: User  # facilitates Alder
    ben: User  # facilitates Birch
    bob: User  # registered for Oak
    pat: User  # registered for Pine
    ada: User  # registered for Alder day out
    member: User  # a member, registered for nothing
    superuser: User
    bob_at_oak: Registration
    wes_at_oak: Registration
    carl_at_oak: Registration
    pat_at_pine: Registration
    ada_at_alder: Registration
    dietary: Question
    contact: Question


def make_world() -> World:
    Group.objects.get_or_create(name="Facilitators")
    oak = make_event(title="Oak retreat", capacity=2, public_area="Oakfield")
    pine = make_event(title="Pine evening")
    alder = make_circle(name="Alder Circle", slug="alder-circle")
    birch = make_circle(name="Birch Circle", slug="birch-circle")
    alder_event = make_event(
        title="Alder day out", visibility=Event.Visibility.CIRCLE, circle=alder
    )
    olly = make_organiser("olly@example.com", oak)
    otto = make_organiser("otto@example.com", pine)
    al = make_circle_facilitator("al@example.com", "Al Alder", alder)
    ben = make_circle_facilitator("ben-b@example.com", "Ben Birch", birch)
    bob = make_verified("bob@example.com", full_name="Bob Oakes")
    pat = make_verified("pat@example.com", full_name="Pat Pinewood")
    ada = make_verified("ada@example.com", full_name="Ada Alderson")
    join(ada, alder)
    wes = make_verified("wes@example.com", full_name="Wes Waiting")
    carl = make_verified("carl@example.com", full_name="Carl Cancelled")
    member = make_verified("member@example.com", full_name="Mo Member")
    dietary = add_question(oak, "Dietary needs", position=1)
    contact = add_question(
        oak, "Emergency contact", kind=Question.Kind.EMERGENCY_CONTACT, position=2
    )
    bob_at_oak = register_directly(oak, bob, status=Registration.Status.CONFIRMED)
    Answer.objects.create(registration=bob_at_oak, question=dietary, value="Vegetarian")
    Answer.objects.create(registration=bob_at_oak, question=contact, value=FORMULA)
    wes_at_oak = register_directly(oak, wes, status=Registration.Status.WAITLISTED)
    carl_at_oak = register_directly(oak, carl, status=Registration.Status.CANCELLED)
    pat_at_pine = register_directly(pine, pat, status=Registration.Status.CONFIRMED)
    ada_at_alder = register_directly(alder_event, ada, status=Registration.Status.CONFIRMED)
    superuser = User.objects.create_superuser("root@example.com", PASSWORD, full_name="Root")
    return World(
        oak=oak,
        pine=pine,
        alder_event=alder_event,
        alder=alder,
        olly=olly,
        otto=otto,
        al=al,
        ben=ben,
        bob=bob,
        pat=pat,
        ada=ada,
        member=member,
        superuser=superuser,
        bob_at_oak=bob_at_oak,
        wes_at_oak=wes_at_oak,
        carl_at_oak=carl_at_oak,
        pat_at_pine=pat_at_pine,
        ada_at_alder=ada_at_alder,
        dietary=dietary,
        contact=contact,
    )


def event_urls(event: Event) -> list[str]:
    """Every admin page about one event (its own and its registrations')."""
    return [
        f"/admin/events/event/{event.pk}/change/",
        f"/admin/events/event/{event.pk}/history/",
        f"/admin/events/event/{event.pk}/door/",
        f"/admin/events/event/{event.pk}/registrations.csv",
        f"/admin/events/event/{event.pk}/message/",
    ]


def registration_urls(registration: Registration) -> list[str]:
    return [
        f"/admin/events/registration/{registration.pk}/change/",
        f"/admin/events/registration/{registration.pk}/history/",
    ]
