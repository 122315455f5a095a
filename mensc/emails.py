"""Email by name: templates/emails/<name>_subject.txt, _body.txt, _body.html."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


def render_email(name: str, to: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}_body.txt", context)
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    with contextlib.suppress(TemplateDoesNotExist):  # the HTML part is optional
        message.attach_alternative(
            render_to_string(f"emails/{name}_body.html", context), "text/html"
        )
    return message


def send_email(name: str, to: str, context: dict[str, Any]) -> None:
    """Render and send the named email through Django's mail API."""
    render_email(name, to, context).send()
