"""Every HTML form, fuzzed: whatever is posted, no 5xx and nothing unhandled or logged at ERROR.

The forms are a table (`FORMS`): the address, who sends it, and a strategy per field.
A form added later is one line: `Form("/accounts/phone/verify/", "member", {"code": CODE})`.
Each example sends the fields with plausible values, arbitrary text (NUL, markup and
every script included), missing fields and fields nobody asked for, as multipart or
urlencoded, from a fresh signed-in client; whatever it changes is rolled back before
the next, so every example starts from the same world and a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import given
from hypothesis import strategies as st

from accounts import services as account_services
from accounts.models import User
from accounts.tokens import invitation_token, password_reset_token
from billing.models import DuesTier, OfflinePayment, Scholarship
from circles import services
from circles.models import Attendance, Circle, FacilitatorNote, Meeting, Membership
from events import services as event_services
from events.models import TicketTier
from tests.circles.conftest import join, make_circle, make_meeting, make_verified
from tests.conftest import PASSWORD, force_signed_in, make_user
from tests.events.conftest import make_event
from tests.fuzz.conftest import facilitators_group, fuzz_settings, rolled_back

pytestmark = pytest.mark.django_db(databases="__all__")

EXAMPLES = 12


@dataclass(frozen=True)
class Ref:
    """The id (or slug) of something in the world, known only once it is made."""

    name: str


# --- Field strategies -------------------------------------------------------------------

TEXT = st.text(max_size=60)  # any script, markup, NUL; no lone surrogates (not UTF-8)


def one_of_or_text(*values: Any) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), TEXT)


NUMBER = st.one_of(st.integers(-(2**70), 2**70).map(str), TEXT)
BOOL = one_of_or_text("on", "", "true", "false", "0", "1")
EMAIL = st.one_of(
    st.emails().map(str), TEXT, st.sampled_from(["bob@example.com", "BEN@example.com"])
)
PASSWORDS = one_of_or_text(PASSWORD, "short", "Another-quiet-river-88", "")
NAME = one_of_or_text("Ben Member", "", " ", "<script>alert(1)</script>")
PHONE = one_of_or_text("+14155550123", "+442071838750", "0", "+1 (415) 555-0199")
ZONE = one_of_or_text("UTC", "Europe/Paris", "America/New_York", "Mars/Olympus")
DATE = one_of_or_text("2026-12-01", "2026-02-30", "9999-12-31", "0001-01-01")
TIME = one_of_or_text("19:00", "25:61", "07:30:00")
CODE = one_of_or_text("123456", "000000", "abcd-efgh", "²²²²²²", "1" * 7, "")
URL_TEXT = one_of_or_text("/dashboard/", "https://evil.example/", "//evil.example", "")


def ref(name: str) -> st.SearchStrategy:
    """Mostly the real id, else anything a number field may be sent."""
    return st.one_of(st.just(Ref(name)), NUMBER)


def some(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A field sent several times (checkboxes, selections)."""
    return st.lists(strategy, max_size=3)


# --- The table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    url: str  # may name world refs: "/circles/{slug}/join/"
    persona: str  # a key of PERSONAS
    fields: dict[str, st.SearchStrategy] = field(default_factory=dict)
    method: str = "post"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.method.upper()}-{self.url}" + (
            "-htmx" if self.headers else ""
        )


SETTINGS_FIELDS = {
    "full_name": NAME,
    "display_name": NAME,
    "phone": PHONE,
    "time_zone": ZONE,
    **{
        f"{channel}_{kind}": BOOL
        for channel in ("email", "sms")
        for kind in ("reminders", "updates", "broadcasts")
    },
}
ACTION = {"index": one_of_or_text("0", "1", "-1")}
MEETING_FIELDS = {
    "circle": ref("circle"),
    "starts_at_0": DATE,
    "starts_at_1": TIME,
    "ends_at_0": DATE,
    "ends_at_1": TIME,
    "status": one_of_or_text(*Meeting.Status.values),
    "note": TEXT,
    "leader": ref("member"),
}
ATTENDANCE_FORMSET = {
    "attendance-TOTAL_FORMS": one_of_or_text("0", "1", "2", "-1"),
    "attendance-INITIAL_FORMS": one_of_or_text("0", "1", "-1"),
    "attendance-0-id": ref("attendance"),
    "attendance-0-meeting": ref("past_meeting"),
    "attendance-0-user": ref("member"),
    "attendance-0-status": one_of_or_text(*Attendance.Status.values),
    "attendance-1-user": ref("member"),
    "attendance-1-status": one_of_or_text(*Attendance.Status.values),
}

FORMS = [
    # Accounts
    Form(
        "/accounts/signup/",
        "anonymous",
        {"email": EMAIL, "full_name": NAME, "password1": PASSWORDS, "password2": PASSWORDS},
    ),
    Form(
        "/accounts/login/",
        "anonymous",
        {"username": EMAIL, "password": PASSWORDS, "next": URL_TEXT},
    ),
    Form("/accounts/password/reset/", "anonymous", {"email": EMAIL}),
    Form(
        "/accounts/password/reset/{reset_uid}/set-password/",
        "resetting",
        {"new_password1": PASSWORDS, "new_password2": PASSWORDS},
    ),
    Form(
        "/accounts/invitation/{invite_uid}/set-password/",
        "invited",
        {"new_password1": PASSWORDS, "new_password2": PASSWORDS},
    ),
    Form(
        "/accounts/password/change/",
        "member",
        {"old_password": PASSWORDS, "new_password1": PASSWORDS, "new_password2": PASSWORDS},
    ),
    Form("/accounts/settings/", "member", SETTINGS_FIELDS),
    Form("/accounts/settings/delete/", "member", {"password": PASSWORDS, "confirm_email": EMAIL}),
    Form("/accounts/verify/resend/", "member"),
    Form("/accounts/verify/{verify_token}/", "anonymous", {"password": PASSWORDS}),
    Form("/accounts/settings/email/", "member", {"new_email": EMAIL, "password": PASSWORDS}),
    Form("/accounts/settings/email/cancel/", "member"),
    Form("/accounts/email/confirm/{email_change_token}/", "member"),
    Form("/accounts/settings/phone/send/", "member"),
    Form("/accounts/settings/phone/verify/", "member", {"code": CODE}),
    Form("/accounts/two-factor/setup/", "member", {"code": CODE}),
    Form("/accounts/two-factor/verify/", "facilitator", {"code": CODE, "next": URL_TEXT}),
    Form("/accounts/two-factor/disable/", "member", {"code": CODE}),
    # Circles
    Form(
        "/circles/",
        "anonymous",
        {"weekday": NUMBER, "kind": one_of_or_text("online", "in_person"), "open_seats": BOOL},
        method="get",
    ),
    Form("/circles/{slug}/join/", "outsider", {"accept": BOOL, "version": ref("version")}),
    Form("/circles/{slug}/leave/", "member"),
    Form(
        "/circles/{full_slug}/offer/", "waitlisted", {"answer": one_of_or_text("accept", "decline")}
    ),
    Form("/circles/{slug}/agreements/", "member", {"version": ref("version")}),
    Form("/circles/{slug}/sharing/", "member", {"share_email": BOOL, "share_phone": BOOL}),
    Form("/meetings/{meeting}/rsvp/", "member", {"response": one_of_or_text("yes", "no")}),
    Form(
        "/meetings/{meeting}/rsvp/",
        "member",
        {"response": one_of_or_text("yes", "no")},
        headers={"HX-Request": "true"},
    ),
    Form("/calendar/", "member", {"action": one_of_or_text("create", "revoke")}),
    # Billing
    Form(
        "/billing/scholarship/",
        "member",
        {"kind": one_of_or_text(*Scholarship.Kind.values), "reason": TEXT},
    ),
    Form("/billing/checkout/{tier}/", "member"),
    Form("/billing/portal/", "member"),
    # Paying for an event (his seat held)
    Form("/events/{retreat}/checkout/", "member"),
    Form("/events/{retreat}/free-place/", "member", {"reason": TEXT}),
    # The facilitator's admin: requests, meetings, attendance, messages, notes, agreements
    Form(
        "/admin/circles/membership/",
        "facilitator",
        {
            **ACTION,
            "action": one_of_or_text("approve", "decline", "offer_seats", "remove"),
            "_selected_action": some(ref("request")),
        },
    ),
    Form("/admin/circles/meeting/add/", "facilitator", MEETING_FIELDS),
    Form(
        "/admin/circles/meeting/{past_meeting}/change/",
        "facilitator",
        {**MEETING_FIELDS, **ATTENDANCE_FORMSET},
    ),
    Form(
        "/admin/circles/meeting/",
        "facilitator",
        {**ACTION, "action": one_of_or_text("cancel"), "_selected_action": some(ref("meeting"))},
    ),
    Form(
        "/admin/circles/circle/{circle}/message/",
        "facilitator",
        {
            "key": one_of_or_text("0" * 32, "f" * 32),
            "channels": some(one_of_or_text("email", "sms")),
            "title": TEXT,
            "text": TEXT,
        },
    ),
    Form(
        "/admin/circles/facilitatornote/add/",
        "facilitator",
        {"circle": ref("circle"), "member": ref("member"), "text": TEXT},
    ),
    Form("/admin/circles/agreement/add/", "facilitator", {"circle": ref("circle"), "text": TEXT}),
    Form(
        "/admin/circles/circle/{circle}/change/",
        "facilitator",
        {
            "name": NAME,
            "status": one_of_or_text(*Circle.Status.values),
            "capacity": NUMBER,
            "weekday": NUMBER,
            "start_time": TIME,
            "time_zone": ZONE,
            "video_link": URL_TEXT,
        },
    ),
    # The treasurer's admin
    Form(
        "/admin/billing/scholarship/",
        "treasurer",
        {
            **ACTION,
            "action": one_of_or_text("approve", "decline"),
            "_selected_action": some(ref("scholarship")),
            "apply": BOOL,
            "until": DATE,
        },
    ),
    Form(
        "/admin/billing/offlinepayment/add/",
        "treasurer",
        {
            "user": ref("member"),
            "amount_cents": NUMBER,
            "currency": one_of_or_text("usd", "eur"),
            "method": one_of_or_text(*OfflinePayment.Method.values),
            "covers_from": DATE,
            "covers_until": DATE,
            "note": TEXT,
        },
    ),
    Form(
        "/admin/billing/duestier/add/",
        "treasurer",
        {
            "name": NAME,
            "amount_cents": NUMBER,
            "currency": one_of_or_text("usd"),
            "stripe_price_id": TEXT,
            "order": NUMBER,
        },
    ),
    # The superuser's
    Form(
        "/admin/accounts/user/add/",
        "superuser",
        {
            "email": EMAIL,
            "full_name": NAME,
            "usable_password": one_of_or_text("true", "false"),
            "password1": PASSWORDS,
            "password2": PASSWORDS,
        },
    ),
    Form(
        "/admin/accounts/user/",
        "superuser",
        {
            **ACTION,
            "action": one_of_or_text("mark_verified", "invite"),
            "_selected_action": some(ref("newcomer")),
            "apply": BOOL,
        },
    ),
]


# --- The world --------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, User]
    refs: dict[str, Any]
    reset_link: str
    invite_link: str

    def client(self, persona: str) -> Client:
        client = Client(raise_request_exception=False)
        if persona in ("resetting", "invited"):
            # The link puts the token in the session.
            link = self.reset_link if persona == "resetting" else self.invite_link
            response = client.get(link)
            assert response.status_code == 302, response
        elif persona != "anonymous":
            force_signed_in(self.users[persona], client)
        return client

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return str(self.refs[value.name])
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


@pytest.fixture
def world() -> World:
    circle = make_circle()
    services.agreement_publish(circle=circle, text="What is said here stays here.")
    full = make_circle(capacity=1, status=Circle.Status.FULL)
    member = make_verified("ben@example.com", full_name="Ben Member", phone="+14155550123")
    join(member, circle)
    join(make_verified("sam@example.com"), full)
    services.agreement_accept(user=member, circle=circle, version=1)
    facilitator = make_verified("fred@example.com", full_name="Fred Facilitator", is_staff=True)
    facilitator.groups.add(facilitators_group())
    join(facilitator, circle, role=Membership.Role.FACILITATOR)
    request = Membership.objects.create(
        circle=circle, user=make_verified("ray@example.com"), requested_at=timezone.now()
    )
    waitlisted = make_verified("walt@example.com")
    Membership.objects.create(
        circle=full,
        user=waitlisted,
        status=Membership.Status.WAITLISTED,
        requested_at=timezone.now(),
        offer_expires_at=timezone.now() + timedelta(days=2),
    )
    meeting = make_meeting(circle)
    past = make_meeting(circle, in_days=-2)
    attendance = Attendance.objects.create(
        meeting=past, user=member, status=Attendance.Status.PRESENT
    )
    FacilitatorNote.objects.create(
        circle_id=circle.pk, member_id=member.pk, author_id=facilitator.pk, text="Quiet."
    )
    scholarship = Scholarship.objects.create(user=member, reason="Between jobs")
    retreat = make_event(title="Weekend retreat")
    event_services.register(
        event=retreat,
        user=member,
        tier=TicketTier.objects.create(event=retreat, name="Standard", amount_cents=15000),
    )
    tier = DuesTier.objects.create(name="Standard", amount_cents=1500, stripe_price_id="price_1")
    treasurer = make_user("tina@example.com", is_staff=True)
    treasurer.groups.add(Group.objects.get_or_create(name="Treasurers")[0])
    superuser = User.objects.create_superuser("alice@example.com", PASSWORD, full_name="Alice")
    newcomer = make_user("nick@example.com", from_sign_up=True)
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    invite_uid = urlsafe_base64_encode(force_bytes(newcomer.pk))
    email_change = account_services.email_change_request(user=member, new_email="ben@example.net")
    return World(
        users={
            "member": member,
            "outsider": make_verified("otto@example.com"),
            "waitlisted": waitlisted,
            "facilitator": facilitator,
            "treasurer": treasurer,
            "superuser": superuser,
        },
        refs={
            "slug": circle.slug,
            "full_slug": full.slug,
            "circle": circle.pk,
            "version": 1,
            "member": member.pk,
            "request": request.pk,
            "meeting": meeting.pk,
            "past_meeting": past.pk,
            "attendance": attendance.pk,
            "scholarship": scholarship.pk,
            "retreat": retreat.slug,
            "tier": tier.pk,
            "reset_uid": uid,
            "verify_token": account_services.verification_token(newcomer),
            "newcomer": newcomer.pk,
            "invite_uid": invite_uid,
            "email_change_token": account_services.email_change_token(email_change),
        },
        reset_link=f"/accounts/password/reset/{uid}/{password_reset_token.make_token(member)}/",
        invite_link=f"/accounts/invitation/{invite_uid}/{invitation_token.make_token(newcomer)}/",
    )


def body(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    """The form's fields, all or some, plus fields nobody asked for."""
    fields = st.one_of(
        st.fixed_dictionaries(form.fields), st.fixed_dictionaries({}, optional=form.fields)
    )
    extra = st.dictionaries(st.text(min_size=1, max_size=10), TEXT, max_size=2)
    return st.builds(lambda f, e: {**e, **f}, fields, extra)


@pytest.mark.parametrize("form", FORMS, ids=[form.id for form in FORMS])
def test_no_form_input_is_a_server_error(
    form: Form, world: World, in_process: None, server_errors
) -> None:
    url = form.url.format(**world.refs)

    @fuzz_settings(EXAMPLES)
    @given(data=body(form), urlencoded=st.booleans())
    def fuzz(data: dict[str, Any], urlencoded: bool) -> None:
        data = {name: world.resolve(value) for name, value in data.items()}
        with rolled_back():
            client = world.client(form.persona)
            headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in form.headers.items()}
            if form.method == "get":
                response = client.get(url, data, **headers)
            elif urlencoded:
                response = client.post(
                    url,
                    urlencode(data, doseq=True),
                    content_type="application/x-www-form-urlencoded",
                    **headers,
                )
            else:
                response = client.post(url, data, **headers)
            assert response.status_code < 500, f"{form.id} {data!r}: {response.status_code}"
            server_errors.assert_none(f"{form.id} {data!r}")

    fuzz()


def test_every_form_of_the_table_is_reachable_by_its_persona(world: World) -> None:
    """A fuzzed form that always answers 403/404 tests nothing: each opens for its sender."""
    for form in FORMS:
        url = form.url.format(**world.refs)
        with rolled_back():
            response = world.client(form.persona).get(url)
        # POST-only views answer a GET with 405: they exist and let him in.
        assert response.status_code in (200, 302, 405), f"{form.id}: {response.status_code}"
