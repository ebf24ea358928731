"""``notify()`` is how every app tells a user something (DESIGN.md section 9)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from . import deliveries, preferences
from .models import Channel, Notification

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


def session_group(user_id: Any) -> str:
    """Every socket of a user, whatever it is for: told when the user's tokens are revoked."""
    return f"session.{user_id}"


_push_loop_lock = threading.Lock()
_push_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
# How long a caller waits for its push (keeps pushes in order when Redis is well); past it the push goes on
# without the caller, so a hanging Redis delays no caller by more than this.
PUSH_WAIT_SECONDS = 0.5


def _loop_for_pushes() -> asyncio.AbstractEventLoop:
    """One long-lived event loop per process, on a daemon thread, for pushes from synchronous code. The channel
    layer keeps its Redis connections per event loop: ``async_to_sync`` would make a new loop, and so a new
    connection, for every notification (a few milliseconds each, most of a notify() call)."""
    global _push_loop
    with _push_loop_lock:
        if _push_loop is None or _push_loop[0] != os.getpid():  # made before a fork: the thread is not in this child
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="notification-push", daemon=True).start()
            _push_loop = (os.getpid(), loop)
        return _push_loop[1]


def _push_done(future: concurrent.futures.Future, *, group: str, kind: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("Could not send %s to %s: %r", kind, group, future.exception())


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # synchronous code (a view, a worker): the process's push loop
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _loop_for_pushes())
            future.add_done_callback(functools.partial(_push_done, group=group, kind=message.get("type")))
            concurrent.futures.wait([future], timeout=PUSH_WAIT_SECONDS)
        else:  # called from a coroutine's thread (never blocks it): as before
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        # Runs after commit: the stored state is right (GET /api/notifications shows it); a lost push must not
        # turn the caller's committed work into an error.
        logger.exception("Could not send %s to %s", message.get("type"), group)


def _push(*, user_id: Any, payload: dict[str, Any]) -> None:
    _group_send(user_group(user_id), {"type": "notification.created", "payload": payload})


def notify(*, user, kind: str, title: str, message: str = "", data: dict[str, Any] | None = None) -> Notification:
    """Store a notification; once the surrounding transaction commits, push it to the user's sockets (if the user
    keeps ``in_app`` on for its topic) and queue its email / web push / SMS deliveries (``deliveries.py``).
    Never raises for a channel's trouble: sending happens in workers, after the caller's work is committed."""
    notification = Notification.objects.create(user=user, kind=kind, title=title, message=message, data=data or {})
    pref = preferences.preference_for(user)
    if Channel.IN_APP in preferences.channels_for(pref, kind):
        payload = notification_payload(notification)
        transaction.on_commit(lambda: _push(user_id=notification.user_id, payload=payload))
    deliveries.deliveries_plan(notification=notification, pref=pref)
    return notification


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True, deleted_at__isnull=True).update(
        read_at=timezone.now()
    )


def notification_delete(*, notification: Notification) -> None:
    """Hidden from the user from now on; the row stays with its delivery log (deliveries not yet sent stop)."""
    Notification.objects.filter(pk=notification.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())


def sessions_revoked(*, user_id: Any) -> None:
    """Close the user's open sockets once the surrounding transaction commits (their tokens were revoked)."""
    transaction.on_commit(lambda: _group_send(session_group(user_id), {"type": "session.revoked"}))
