"""``notify()`` is how every app tells a user something (DESIGN.md section 9)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)


def user_group(user_id: Any) -> str:
    return f"user.{user_id}"


def notification_payload(notification: Notification) -> dict[str, Any]:
    """The guide's notification object; the websocket and GET /api/notifications send the same thing."""
    return {
        "id": str(notification.id),
        "type": notification.kind,
        "title": notification.title,
        "message": notification.message,
        "data": notification.data,
        "read": notification.read,
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
    }


def _push(*, user_id: Any, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "notification.created", "payload": payload})
    except Exception:
        # The row is stored and GET /api/notifications shows it; a lost push must not undo the caller's work.
        logger.exception("Could not push notification %s to user %s", payload.get("id"), user_id)


def notify(*, user, kind: str, title: str, message: str = "", data: dict[str, Any] | None = None) -> Notification:
    """Store a notification and push it to the user's sockets once the surrounding transaction commits."""
    notification = Notification.objects.create(user=user, kind=kind, title=title, message=message, data=data or {})
    payload = notification_payload(notification)
    transaction.on_commit(lambda: _push(user_id=notification.user_id, payload=payload))
    return notification


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
