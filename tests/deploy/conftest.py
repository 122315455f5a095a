from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.servers import production_env
from tests.proc import manage


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory, django_db_setup) -> Path:
    """`collectstatic` as the Dockerfile runs it: hashed names, compressed copies."""
    root = tmp_path_factory.mktemp("staticfiles")
    proc = manage("collectstatic", "--noinput", "-v", "0", env=production_env(root))
    assert proc.returncode == 0, proc.stderr
    assert (root / "staticfiles.json").exists()
    return root


@pytest.fixture
def prod_env(collected_static: Path) -> dict[str, str]:
    return production_env(collected_static)
