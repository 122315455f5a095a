"""System checks for `manage.py check --deploy`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.staticfiles, deploy=True)
def static_files_collected(**kwargs: Any) -> list[Warning]:
    """With STATIC_MANIFEST on, every page needs the manifest collectstatic writes."""
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if settings.STATIC_MANIFEST and not manifest.exists():
        return [
            Warning(
                f"STATIC_MANIFEST is on but {manifest} does not exist: pages will fail "
                "to render their stylesheet links.",
                hint="Run `python manage.py collectstatic --noinput` (the Dockerfile "
                "does), or point STATIC_ROOT at the collected files.",
                id="mensc.W001",
            )
        ]
    return []
