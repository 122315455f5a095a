from __future__ import annotations

from django import template

register = template.Library()

# The currencies a man reads with a sign; any other is written with its code.
SIGNS = {"usd": "$", "eur": "€", "gbp": "£"}


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    """1500, "usd" → "$15"; 1550 → "$15.50"; 1500, "chf" → "CHF 15"."""
    cents = cents or 0
    amount = f"{cents // 100:,}" if cents % 100 == 0 else f"{cents / 100:,.2f}"
    code = (currency or "").lower()
    if code in SIGNS:
        return f"{SIGNS[code]}{amount}"
    return f"{code.upper()} {amount}".strip()
