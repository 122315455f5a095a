"""Message kinds: declared by the app that sends them, known to notifications by registry only."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail

from notifications import delivery, inbound, kinds
from notifications.models import Notification
from notifications.services import notify, render
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(databases="__all__")

NOTIFICATIONS = Path(__file__).resolve().parents[2] / "notifications"


def test_every_app_registers_its_kinds_at_start_up() -> None:
    names = {kind.name for kind in kinds.all_kinds()}

    assert {"verify_email", "password_reset"} <= names  # accounts
    assert {"reminder_24h", "reminder_2h", "broadcast", "seat_offered"} <= names  # circles
    assert "dues_past_due" in names  # billing
    assert "request_received" not in names  # the dead kind is gone


def test_the_notifications_app_names_no_kind_of_another_app() -> None:
    source = "\n".join(
        p.read_text() for p in NOTIFICATIONS.rglob("*.py") if "migrations" not in p.parts
    )

    assert [k.name for k in kinds.all_kinds() if f'"{k.name}"' in source] == []


@pytest.mark.parametrize("kind", kinds.all_kinds(), ids=lambda kind: kind.name)
def test_every_kind_renders_on_each_of_its_channels(kind: kinds.MessageKind) -> None:
    for channel in kind.channels:
        subject, body, _html = render(kind, channel, {})

        assert body.strip()
        assert bool(subject) == (channel == kinds.EMAIL)
        for name in kind.minted:  # a value it mints appears only as its placeholder
            assert kinds.placeholder(name) in body


def test_an_unknown_kind_is_refused_before_anything_is_queued() -> None:
    user = make_user("eve@example.com")

    with pytest.raises(LookupError, match="unknown message kind"):
        notify(user=user, kind="no_such_kind", subject_key="x")
    assert not Notification.objects.exists()


def test_a_kind_goes_only_by_the_channels_it_declares() -> None:
    user = make_user("eve@example.com")

    with pytest.raises(ValueError, match="goes only by"):
        notify(user=user, kind="verify_email", subject_key="x", channels=["sms"])
    assert not Notification.objects.exists()


def test_a_kind_name_is_declared_once() -> None:
    taken = kinds.get("broadcast")

    with pytest.raises(ValueError, match="declared twice"):
        kinds.register(kinds.MessageKind(name="broadcast", preference="updates"))
    kinds.register(taken)  # the same declaration again is harmless
    assert kinds.get("broadcast") is taken


def test_an_account_message_goes_by_email_only() -> None:
    with pytest.raises(ValueError, match="by email only"):
        kinds.MessageKind(name="x", preference=None, channels=(kinds.SMS,))


def test_a_phone_proof_is_an_account_message_by_sms_only() -> None:
    proof = kinds.MessageKind(name="x", preference=None, channels=(kinds.SMS,), proves_phone=True)
    assert kinds.get("phone_code").proves_phone

    for wrong in (
        {"preference": "updates", "channels": (kinds.SMS,)},
        {"preference": None, "channels": (kinds.EMAIL,)},
        {"preference": None, "channels": (kinds.EMAIL, kinds.SMS)},
    ):
        with pytest.raises(ValueError, match="by SMS only"):
            kinds.MessageKind(name="x", proves_phone=True, **wrong)
    # The proof goes to the number he asked to prove; every other text to a proved one.
    man = make_user("eve@example.com", phone="+14155550123")
    assert proof.sms_number(man) == "+14155550123"
    assert kinds.get("broadcast").sms_number(man) == ""


def test_the_help_text_is_made_of_what_each_app_registered() -> None:
    assert inbound.help_text() == (
        "Men's Circle: reply YES or NO to answer for your next meeting. STOP ends texts."
    )
    with pytest.raises(ValueError, match="taken"):
        inbound.register(words={"YES"}, handler=lambda **_: "", help="something else")


def test_a_minted_link_is_escaped_in_html_and_never_saved(settings) -> None:
    settings.SITE_URL = "https://circles.example.org"
    user = make_user("eve@example.com")
    [row] = notify(user=user, kind="verify_email", subject_key="x")

    body, html = delivery.with_minted(row)

    assert "https://circles.example.org/accounts/verify/" in body
    assert 'href="https://circles.example.org/accounts/verify/' in html
    assert "{link:url}" not in body + html
    row.refresh_from_db()
    assert "{link:url}" in row.body


@pytest.fixture
def stray_kind():
    """A kind whose link would point somewhere other than SITE_URL."""
    kind = kinds.MessageKind(
        name="test_stray_link",
        preference=None,
        template="verify_email",
        minted={"url": lambda row: "https://evil.example/accounts/verify/x/"},
    )
    kinds.register(kind)
    yield kind
    kinds._registry.pop(kind.name)


def test_a_link_that_is_not_on_site_url_is_never_sent(stray_kind) -> None:
    user = make_user("eve@example.com")
    [row] = notify(user=user, kind=stray_kind.name, subject_key="x")

    outcome = delivery.deliver(row.pk)

    row.refresh_from_db()
    assert outcome.permanent == 1
    assert row.status == Notification.Status.FAILED_PERMANENT
    assert "not on SITE_URL" in row.error
    assert mail.outbox == []
