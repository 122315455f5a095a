from __future__ import annotations

from django import template

from accounts.models import User
from circles.selectors import public_name as _public_name

register = template.Library()


@register.filter
def public_name(user: User | None) -> str:
    """First name and last initial."""
    return _public_name(user) if user else ""
