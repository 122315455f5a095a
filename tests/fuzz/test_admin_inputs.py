"""No value in an admin address or form is a 500: filters, search, ordering, paging,
autocomplete, actions and object ids of every admin page of our models, as a facilitator,
a treasurer and a superuser.

Each value below is tried in every place a changelist takes text. A NUL byte is a 400
(mensc.middleware.NulByteMiddleware: PostgreSQL cannot hold one); any other value is
answered as Django's admin answers a wrong one: the page, a redirect to `?e=1`, a
message that nothing was selected, a 400 or a 404. Never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.models import OfflinePayment, Scholarship
from circles import services
from circles.models import Attendance, FacilitatorNote, Membership
from tests.circles.conftest import join, make_circle, make_facilitator, make_meeting, make_verified
from tests.conftest import force_signed_in, make_user
from tests.fuzz.conftest import facilitators_group

pytestmark = pytest.mark.django_db(databases="__all__")

NUL = "\0"
# Wrong as a value can be: a NUL, not a number, a negative one, one past 64 bits, and
# text with markup, quotes, a percent sign and a letter outside ASCII.
VALUES = [f"1{NUL}", "abc", "-1", "99999999999999999999", "é<'\">%"]
ALLOWED = {200, 302, 400, 403, 404}

# Who runs which pages: facilitators the circles, treasurers the dues, superusers all.
PERSONA_APPS = {
    "facilitator": {"circles"},
    "treasurer": {"billing"},
    "superuser": {"accounts", "auth", "circles", "billing"},
}
CASES = sorted(
    (persona, model._meta.label)
    for model in admin.site._registry
    for persona, apps_ in PERSONA_APPS.items()
    if model._meta.app_label in apps_
)


@dataclass
class World:
    facilitator: User
    treasurer: User
    superuser: User


@pytest.fixture
def world() -> World:
    """One circle with a member, a request, a past meeting, a note, a scholarship, a payment."""
    circle = make_circle()
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    facilitator = make_facilitator("fred@example.com", circle)
    facilitator.groups.set([facilitators_group()])
    member = make_verified("ben@example.com", full_name="Ben Member")
    join(member, circle)
    Membership.objects.create(
        circle=circle, user=make_verified("ray@example.com"), requested_at=timezone.now()
    )
    meeting = make_meeting(circle, in_days=-2)
    Attendance.objects.create(meeting=meeting, user=member, status=Attendance.Status.PRESENT)
    FacilitatorNote.objects.create(
        circle_id=circle.pk, member_id=member.pk, author_id=facilitator.pk, text="Quiet."
    )
    Scholarship.objects.create(user=member, reason="Between jobs")
    OfflinePayment.objects.create(
        user=member,
        amount_cents=1000,
        method=OfflinePayment.Method.CASH,
        covers_from=timezone.localdate(),
        covers_until=timezone.localdate() + timedelta(days=30),
    )
    treasurer = make_user("tina@example.com", is_staff=True)
    treasurer.groups.add(Group.objects.get_or_create(name="Treasurers")[0])
    superuser = User.objects.create_superuser("alice@example.com", "x", full_name="Alice Admin")
    return World(facilitator=facilitator, treasurer=treasurer, superuser=superuser)


def client_for(user: User) -> Client:
    return force_signed_in(user, Client(raise_request_exception=False))


def assert_answered(response, value: str, where: str) -> None:
    status = response.status_code
    assert status in ALLOWED, f"{where} = {value!r}: {status}"
    if NUL in value:
        assert status == 400, f"{where} = {value!r}: {status}, not 400"


def changelist_params(client: Client, url: str) -> list[str]:
    """Every query parameter the changelist's filters take, as Django builds them."""
    response = client.get(url)
    assert response.status_code == 200, response
    changelist = response.context_data["cl"]
    params = [p for spec in changelist.filter_specs for p in spec.expected_parameters()]
    return [*params, "q", "o", "p", "_facets"]


@pytest.mark.parametrize(("persona", "label"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_no_admin_input_is_a_server_error(world: World, persona: str, label: str) -> None:
    client = client_for(getattr(world, persona))
    model_admin = admin.site.get_model_admin(apps.get_model(label))
    opts = model_admin.model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"

    for param in changelist_params(client, base):
        for value in VALUES:
            response = client.get(base, {param: value})
            assert_answered(response, value, f"GET {base}?{param}")

    actions = [name for name in model_admin.get_actions(_request_for(client, base))]
    for action in actions:
        for value in VALUES:
            response = client.post(
                base, {"action": action, "index": "0", "_selected_action": [value]}
            )
            assert_answered(response, value, f"POST {base} {action} _selected_action")

    # Every page of one object (change, delete, history and our own: message, CSV, chart).
    object_routes = [
        str(p.pattern) for p in model_admin.get_urls() if "<path:object_id>" in str(p.pattern)
    ]
    assert object_routes
    for route in object_routes:
        for value in VALUES:
            url = base + route.replace("<path:object_id>", quote(value))
            assert_answered(client.get(url), value, f"GET {base}{route}")

    # An add page takes initial values from its address (our "publish agreement" link does).
    if client.get(f"{base}add/").status_code == 200:
        for db_field in opts.fields:
            if db_field.is_relation or db_field.choices:
                for value in (f"1{NUL}", "abc", "99999999999999999999"):
                    response = client.get(f"{base}add/", {db_field.name: value})
                    assert_answered(response, value, f"GET {base}add/?{db_field.name}")

    for field_name in _autocompleted_fields(model_admin):
        for value in VALUES:
            response = client.get(
                "/admin/autocomplete/",
                {
                    "term": value,
                    "app_label": opts.app_label,
                    "model_name": opts.model_name,
                    "field_name": field_name,
                },
            )
            assert_answered(response, value, f"autocomplete {label}.{field_name} term")


def _request_for(client: Client, url: str):
    return client.get(url).wsgi_request


def _autocompleted_fields(model_admin: admin.ModelAdmin) -> list[str]:
    fields = [*model_admin.autocomplete_fields]
    for name in fields:
        field = model_admin.model._meta.get_field(name)
        assert isinstance(field, models.ForeignKey | models.ManyToManyField)
    return fields


ALL_ADMINS_WITH_ACTIONS = sorted(
    model._meta.label
    for model, model_admin in admin.site._registry.items()
    if model_admin.actions is not None
)


def test_a_forged_selection_is_a_400_on_every_admin_of_the_site(world: World) -> None:
    """Ours, Django's and dj-stripe's: Django's admin would filter `pk__in=["abc"]`, a 500."""
    client = client_for(world.superuser)
    for label in ALL_ADMINS_WITH_ACTIONS:
        opts = apps.get_model(label)._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        for value in ("abc", "99999999999999999999", NUL):
            response = client.post(
                url, {"action": "delete_selected", "index": "0", "_selected_action": [value]}
            )
            assert response.status_code == 400, f"{label} {value!r}: {response.status_code}"


def test_a_real_selection_still_runs_its_action(world: World) -> None:
    request = Membership.objects.get(status=Membership.Status.REQUESTED)
    client = client_for(world.facilitator)

    response = client.post(
        "/admin/circles/membership/",
        {"action": "decline", "index": "0", "_selected_action": [str(request.pk)]},
    )

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == Membership.Status.DECLINED


@pytest.mark.parametrize("value", ["abc", "99999999999999999999", "1.5"])
def test_an_autocomplete_field_sent_a_non_id_shows_the_form_again(world: World, value) -> None:
    """Django's autocomplete widget looked the sent value up to redisplay it: a 500."""
    client = client_for(world.treasurer)

    response = client.post("/admin/billing/offlinepayment/add/", {"user": value})

    assert response.status_code == 200
    assert "user" in response.context_data["adminform"].form.errors
    assert not OfflinePayment.objects.filter(recorded_by=world.treasurer).exists()
