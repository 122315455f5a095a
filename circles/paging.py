"""Numbered pages of a listing without a COUNT: one row more than a page says if there is a next.

A page number that is not one (``abc``, ``0``, ``-1``) is the first page, and
one past the end is the last page, each with a note saying so; only that
rare case counts the rows, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from django.db.models import QuerySet

PAGE_SIZE = 20
# Past this a page number is past the end of any listing we have (and of OFFSET's range).
MAX_PAGE = 10_000
NOT_A_PAGE = "“{asked}” is not a page number: here is the first page."
PAST_THE_END = "There is no page {asked}: here is the last page."


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    has_next: bool
    note: str | None = None

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_number(raw: str | None) -> tuple[int, str | None]:
    """The page asked for, or 1 and a note saying why not."""
    if raw is None or not raw.strip():
        return 1, None
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        return 1, NOT_A_PAGE.format(asked=raw[:20])
    return number, None


def page_of(
    queryset: QuerySet[Any], number: int, *, size: int = PAGE_SIZE, past_the_end: bool = True
) -> Page:
    """Page `number` of `queryset` (which must be in a stable order).

    Past the end: the last page, with a note; or, with ``past_the_end=False``
    (an htmx "more" that found nothing more), an empty page.
    """
    if number <= MAX_PAGE:
        start = (number - 1) * size
        rows = list(queryset[start : start + size + 1])
        if rows or number == 1:
            return Page(rows[:size], number, len(rows) > size)
    if not past_the_end:
        return Page([], number, False)
    last = max(1, ceil(queryset.count() / size))
    start = (last - 1) * size
    rows = list(queryset[start : start + size + 1])
    return Page(rows[:size], last, len(rows) > size, PAST_THE_END.format(asked=number))
