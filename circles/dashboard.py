"""More sections for a member's dashboard, from apps that sit above circles.

circles may not import them (the apps are layers, pyproject.toml), so each
registers its section here from its AppConfig.ready(): a template and a
function of the request that returns the template's context, or None to
leave the section out. The dashboard view renders every registered section
on each request, outside circles' cached parts (circles.fragments keys those
on circles' scopes only: a section of another app would go stale there); a
section caches its own context on its own scopes if it wants to (events'
does, with circles.caching), and should be cheap when it does not: one query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

Context = Callable[[HttpRequest], dict[str, object] | None]


@dataclass(frozen=True)
class Section:
    name: str
    template: str
    context: Context


_SECTIONS: dict[str, Section] = {}


def register_section(name: str, template: str, context: Context) -> None:
    """Add (or replace: ready() may run twice) the section called `name`."""
    _SECTIONS[name] = Section(name, template, context)


def sections() -> list[Section]:
    return list(_SECTIONS.values())


def render_sections(request: HttpRequest) -> list[SafeString]:
    """Each registered section as HTML for this request, in the order they registered."""
    rendered = []
    for section in _SECTIONS.values():
        context = section.context(request)
        if context is not None:
            html = render_to_string(section.template, context, request)
            rendered.append(mark_safe(html))  # noqa: S308 - a template's own output
    return rendered
