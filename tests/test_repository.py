"""Hygiene of the repository itself: what is tracked, what is generated."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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


PACKAGES = ("mensc", "demo", "events", "circles", "billing", "accounts", "notifications")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


def test_the_import_contracts_hold() -> None:
    proc = lint_imports(ROOT)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # notifications sits below accounts: importing it back closes a loop.
        ("notifications/loop.py", "from accounts import models\n", "Apps are layers"),
        ("billing/loop.py", "import circles.selectors\n", "Apps are layers"),
        # services -> tasks -> delivery already: delivery -> services is a loop.
        ("notifications/delivery.py", "from notifications import services\n", "No import cycle"),
        ("circles/loop.py", "from mensc import views\n", "nothing from the project package"),
    ],
)
def test_the_import_check_fails_on_a_new_loop(
    source_copy: Path, module: str, line: str, contract: str
) -> None:
    path = source_copy / module
    original = path.read_text() if path.exists() else None
    assert lint_imports(source_copy).returncode == 0
    path.write_text((original or "") + line)
    try:
        proc = lint_imports(source_copy)
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original)

    assert proc.returncode == 1, proc.stdout
    broken = [row for row in proc.stdout.splitlines() if row.endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], proc.stdout


def test_views_write_only_through_services() -> None:
    # A view that saves a model (a ModelForm's save() included) writes the
    # whole row it read; services write their own columns (update_fields).
    views = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name in ("views.py", "api.py", "webhooks.py") or path.name.endswith("_views.py")
    ]
    saves = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in views
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("save", "save_m2m")
    ]
    assert len(views) >= 8
    assert saves == []


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_groups_come_back_after_a_flush() -> None:
    # A transactional test empties the tables; post_migrate must bring back the
    # groups the admin relies on, or the next test on this worker finds none.
    from django.contrib.auth.models import Group

    call_command("flush", "--noinput", verbosity=0)

    facilitators = Group.objects.get(name="Facilitators")
    assert facilitators.permissions.filter(codename="change_membership").exists()
    assert Group.objects.filter(name="Treasurers").exists()


def test_the_readme_pictures_are_in_the_repository() -> None:
    """README shows the product before anyone installs it: every picture it
    names is a PNG in the repository, and the test output is not committed."""
    readme = (ROOT / "README.md").read_text()
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", readme)

    assert len(pictures) >= 3
    for picture in pictures:
        assert (ROOT / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    assert [f for f in tracked_files() if f.startswith("test-results/")] == []
