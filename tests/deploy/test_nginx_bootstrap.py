"""Where nginx comes from: the test command installs it when it can; the smoke
test skips only where it can't be had, and never in CI."""

from __future__ import annotations

import pytest

import mensc.__main__ as bootstrap
from tests.deploy import servers


@pytest.fixture
def no_nginx(monkeypatch) -> None:
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    monkeypatch.setattr(bootstrap, "NGINX_PATHS", ())
    monkeypatch.setattr(servers, "NGINX_PATHS", ())


def test_the_test_command_installs_nginx_as_root(no_nginx, monkeypatch) -> None:
    installs = []
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None if name == "nginx" else name)
    monkeypatch.setattr(bootstrap, "install_nginx", lambda: installs.append(1) or True)
    monkeypatch.setenv("CI", "true")

    bootstrap.ensure_nginx()

    assert installs == [1]


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_nginx_fails_the_run(no_nginx, monkeypatch, capsys, ci: str) -> None:
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("CI", ci)

    with pytest.raises(SystemExit) as exit_:
        bootstrap.ensure_nginx()
    with pytest.raises(pytest.fail.Exception, match="CI must run the nginx smoke test"):
        servers.nginx_binary()

    assert exit_.value.code == 2
    assert "CI runs the nginx smoke test" in capsys.readouterr().err


def test_elsewhere_a_missing_nginx_skips_the_smoke_test_saying_why(
    no_nginx, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)

    bootstrap.ensure_nginx()
    with pytest.raises(pytest.skip.Exception, match="nginx is not installed"):
        servers.nginx_binary()

    assert "will be skipped" in capsys.readouterr().out
