from __future__ import annotations

import pytest
from django.contrib.auth.management.commands import changepassword
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD, signed_in, totp_code

pytestmark = pytest.mark.django_db(databases="__all__")

ADMIN_PASSWORD = "Tall-oak-harbour-29"


def admin_login(email: str, password: str) -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    assert response.status_code == 302, response.content
    return client


def sent_to_set_up_two_factor(client: Client) -> bool:
    """Signed in, the admin first asks him to set up two-factor (his first sign-in)."""
    response = client.get("/admin/", follow=True)
    return response.redirect_chain[-1][0].startswith("/accounts/two-factor/setup/")


def test_createsuperuser_noinput_reads_the_password_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)

    call_command("createsuperuser", "--noinput", "--email", "root@example.com")

    user = User.objects.get(email="root@example.com")
    assert user.is_superuser and user.is_staff
    assert sent_to_set_up_two_factor(admin_login("root@example.com", ADMIN_PASSWORD))


def test_createsuperuser_noinput_takes_the_email_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "env@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)

    call_command("createsuperuser", "--noinput")

    assert User.objects.get(email="env@example.com").check_password(ADMIN_PASSWORD)


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--noinput"], ADMIN_PASSWORD, "You must use --email"),
        (["--noinput", "--email", "not-an-email"], ADMIN_PASSWORD, "not a valid email"),
        (["--noinput", "--email", "root@example.com"], "123", "too short"),
        (["--noinput", "--email", "root@example.com"], "   ", "Blank passwords"),
    ],
)
def test_createsuperuser_refuses_bad_input_and_creates_nothing(
    monkeypatch, args: list[str], password: str, message: str
) -> None:
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)

    with pytest.raises(CommandError, match=message):
        call_command("createsuperuser", *args)

    assert not User.objects.exists()


def test_createsuperuser_refuses_a_taken_email(member: User, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)

    with pytest.raises(CommandError, match="already taken"):
        call_command("createsuperuser", "--noinput", "--email", "BOB@example.com")

    assert User.objects.count() == 1


def test_changepassword_sets_a_password_that_signs_in(member: User, monkeypatch) -> None:
    old_session = signed_in(member)
    # Django's command prompts twice with getpass; answer like a person would.
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": ADMIN_PASSWORD)

    call_command("changepassword", member.email)

    user = User.objects.get(pk=member.pk)
    assert user.check_password(ADMIN_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert old_session.get("/accounts/password/change/").status_code == 302


def test_seed_demo_is_idempotent_and_its_admin_can_sign_in(settings, capsys) -> None:
    """The demo admin has the published demo key: the printed password and a
    code for that key open the admin."""
    from demo.management.commands.seed_demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_TOTP_KEY

    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")

    assert User.objects.filter(email=DEMO_ADMIN).count() == 1
    assert DEMO_PASSWORD in capsys.readouterr().out
    client = admin_login(DEMO_ADMIN, DEMO_PASSWORD)
    asked = client.get("/admin/", follow=True)
    assert asked.redirect_chain[-1][0].startswith("/accounts/two-factor/verify/")
    assert (
        client.post(
            "/accounts/two-factor/verify/", {"code": totp_code(DEMO_TOTP_KEY, at=0)}
        ).status_code
        == 200
    )
    assert client.get("/admin/").status_code == 302
    response = client.post("/accounts/two-factor/verify/", {"code": totp_code(DEMO_TOTP_KEY)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_seed_demo_refuses_to_run_in_production() -> None:
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")

    assert not User.objects.exists()
