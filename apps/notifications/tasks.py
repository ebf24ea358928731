from __future__ import annotations

from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.notifications import services


@shared_task(name="notifications.notification_send")
def notification_send(
    *, user_id: str, kind: str, title: str, message: str = "", data: dict[str, Any] | None = None
) -> str | None:
    """Notify from a worker (e.g. a chain tracker); the push crosses processes through the channel layer."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return str(services.notify(user=user, kind=kind, title=title, message=message, data=data).id)
