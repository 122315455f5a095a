"""Circles' rows in `creds` go with the member (no cascade crosses databases),
and his calendar feed goes when his mailbox is first proven."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.signals import email_first_proven
from circles import services
from circles.models import CalendarFeed, FacilitatorNote


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="circles.delete_creds_rows")
def delete_creds_rows(sender: type, instance: Any, **kwargs: Any) -> None:
    CalendarFeed.objects.filter(user_id=instance.pk).delete()
    FacilitatorNote.objects.filter(Q(author_id=instance.pk) | Q(member_id=instance.pk)).delete()


@receiver(email_first_proven, dispatch_uid="circles.revoke_calendar_feed")
def revoke_calendar_feed(sender: type, user: Any, **kwargs: Any) -> None:
    # A feed made before the address was proven may be a stranger's.
    services.calendar_feed_revoke(user=user)
