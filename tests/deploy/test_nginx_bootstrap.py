"""Where nginx and chromium come from: the test command installs them when it
can; the tests that need them skip only where they can't be had, and never in CI."""

from __future__ import annotations

import pytest

import mensc.__main__ as bootstrap
from tests.deploy import servers


@pytest.fixture
def nothing_installed(monkeypatch) -> None:
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    monkeypatch.setattr(bootstrap, "NGINX_PATHS", ())
    monkeypatch.setattr(bootstrap, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(servers, "NGINX_PATHS", ())


def test_the_test_command_installs_nginx_and_chromium_as_root(
    nothing_installed, monkeypatch
) -> None:
    installs = []
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None if name == "nginx" else name)
    monkeypatch.setattr(
        bootstrap, "install_debian_packages", lambda names: installs.append(names) or True
    )
    monkeypatch.setenv("CI", "true")

    bootstrap.ensure_debian_packages()

    assert installs == [["nginx", "chromium"]]


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_package_fails_the_run(
    nothing_installed, monkeypatch, capsys, ci: str
) -> None:
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("CI", ci)

    with pytest.raises(SystemExit) as exit_:
        bootstrap.ensure_debian_packages()
    with pytest.raises(pytest.fail.Exception, match="CI must run the nginx smoke test"):
        servers.nginx_binary()

    assert exit_.value.code == 2
    assert "nginx and chromium not installed" in capsys.readouterr().err


def test_elsewhere_a_missing_package_skips_its_tests_saying_why(
    nothing_installed, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)

    bootstrap.ensure_debian_packages()
    with pytest.raises(pytest.skip.Exception, match="nginx is not installed"):
        servers.nginx_binary()

    assert "will be skipped" in capsys.readouterr().out
