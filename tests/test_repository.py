"""Hygiene of the repository itself: what is tracked, what is generated."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.core.management import call_command

from tests.proc import ROOT


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_nothing_under_var_or_a_virtualenv_is_tracked() -> None:
    files = tracked_files()

    assert files
    assert [f for f in files if f.startswith(("var/", ".venv/", "venv/", "staticfiles/"))] == []
    assert [f for f in files if f.endswith((".sqlite3", ".pyc"))] == []


@pytest.mark.django_db(databases="__all__")
def test_every_model_change_has_a_committed_migration() -> None:
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    except SystemExit:
        pytest.fail("a model change has no migration: run makemigrations and commit it")
