from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    """1500, "usd" → "USD 15.00"."""
    return f"{(currency or '').upper()} {(cents or 0) / 100:,.2f}".strip()
