from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mensc import health


class Command(BaseCommand):
    help = "Print the health report (as /api/v1/health does); exit 1 when unhealthy."

    def handle(self, *args: Any, **options: Any) -> None:
        healthy, body = health.report()
        self.stdout.write(json.dumps(body, indent=2))
        if not healthy:
            down = [
                name
                for name, value in body.items()
                if isinstance(value, dict) and value["status"] == "down"
            ]
            raise CommandError(f"unhealthy: {', '.join(down)} down")
