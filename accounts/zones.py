"""Time zones a man can pick, and how a zone reads to him.

Only real places: "Region/City" names from the zone database, without the
aliases and oddities (Factory, localtime, Etc/*, posix/*, right/*) that mean
nothing to a reader. UTC is the site's fallback for a man whose zone we do
not know yet; it is kept as a choice of its own so such an account still
validates.
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from itertools import groupby

FALLBACK = "UTC"
NOT_A_ZONE = "Pick your time zone from the list (a city near you)."
_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


@cache
def real_zones() -> tuple[str, ...]:
    """Region/City zone names, sorted."""
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            # Etc/*, posix/*, right/*, US/*, Factory, localtime... are not regions.
            if "/" in name and name.split("/", 1)[0] in _REGIONS
        )
    )


def is_choosable(name: str) -> bool:
    return name == FALLBACK or name in real_zones()


def city_name(name: str) -> str:
    """How a zone's place reads: "America/Los_Angeles" is "Los Angeles"."""
    if name == FALLBACK or "/" not in name:
        return name
    return name.rsplit("/", 1)[-1].replace("_", " ")


@cache
def grouped_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Choices for a <select> with an <optgroup> per region (Django's nested choices)."""
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("Universal", [(FALLBACK, "UTC (no time zone set)")])
    ]
    for region, names in groupby(real_zones(), key=lambda n: n.split("/", 1)[0]):
        groups.append(
            (region, [(n, n.split("/", 1)[1].replace("_", " ").replace("/", ", ")) for n in names])
        )
    return groups


def valid_or_none(name: str | None) -> str | None:
    """The name if it is a real, choosable zone; else None."""
    name = (name or "").strip()
    return name if name and name in real_zones() else None
