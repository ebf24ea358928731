"""Live chat sockets: one per chat session (its user and its assigned agent), and the agents' console.

Protocol (README "Live chat"): after ``{"type": "authenticated"}`` the chat socket sends ``history``; the console
sends ``console``. Every ORM access goes through a selector or service in ``database_sync_to_async``; state
changes are pushed by the services after commit, the consumers only forward them. Typing indicators are not
state: the consumer relays them straight to the session group.
"""

from __future__ import annotations

import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings

from apps.support.models import ChatMessage, ChatSession
from apps.support.selectors import chat as selectors
from apps.support.services import chat as services
from engipay.api.errors import ApplicationError
from engipay.ws_auth import AuthenticatedJsonConsumer

CLOSE_NOT_FOUND = 4404  # unknown session, not a party to it, or no longer its agent (requeued)
CLOSE_NOT_AGENT = 4403


def _error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message, "details": details or {}}}


class _RateLimit:
    """Token bucket: a burst of ``burst`` messages, refilled at ``per_minute``."""

    def __init__(self, burst: int, per_minute: int) -> None:
        self.burst, self.rate = burst, per_minute / 60
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class _GatedConsumer(AuthenticatedJsonConsumer):
    """Checks access right after authentication: before ``accept()`` when the token came in the query string,
    else after the first-message authentication; a refusal closes with ``refusal_code``."""

    refusal_code = CLOSE_NOT_FOUND
    groups_joined: list[str]
    allowed: bool = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first runs close_old_connections through sync_to_async: a hop through the one thread
        # all consumers' database work shares, for every event, even a chat line that is only forwarded. Under
        # load those hops queued every delivery behind the database work (bench/chat.py). Here every ORM access
        # goes through database_sync_to_async, which closes old connections around each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if not self.scope.get("token_invalid") and user is not None and user.is_authenticated:
            self.allowed = await self.check_access(user)
            if not self.allowed:
                await self.close(code=self.refusal_code)
                return
        await super().connect()

    async def _authenticated(self, user: Any, expires_at: int) -> None:
        # The base sends {"type": "authenticated"} after on_authenticated(); the first state message follows it.
        await super()._authenticated(user, expires_at)
        await self.after_authenticated()

    async def on_authenticated(self) -> None:
        if not self.allowed:
            self.allowed = await self.check_access(self.user)
        if not self.allowed:
            await self.shut_out()
        await self.joined()

    async def shut_out(self) -> None:
        """Refuse this socket: close it with ``refusal_code``, leave every group, stop."""
        for timer in getattr(self, "_timers", []):
            timer.cancel()
        self._timers = []
        await self.close(code=self.refusal_code)
        await self._leave_groups()
        raise StopConsumer

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def _leave_groups(self) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        if self._session_group:
            await self.channel_layer.group_discard(self._session_group, self.channel_name)
            self._session_group = None

    async def check_access(self, user: Any) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    async def joined(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def after_authenticated(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def call(self, func: Any, *, parallel: bool = False, **kwargs: Any) -> Any:
        """A service call; its refusal becomes an ``error`` message on this socket (None is returned).

        ``parallel``: run it on the thread pool (each thread its own database connection) instead of the one
        thread every consumer's database work shares, so that one slow round trip does not hold up every other
        socket's messages. For the hot, self-contained services (a message, a read mark) whose ordering comes
        from their own row lock; this socket still awaits each call before it reads its next frame."""
        try:
            return await database_sync_to_async(func, thread_sensitive=not parallel)(**kwargs)
        except ApplicationError as exc:
            await self.send_json(_error(exc.code, exc.message, exc.details))
        except ChatSession.DoesNotExist:
            await self.send_json(_error("not_found", "No such chat."))
        return None

    async def disconnect(self, code: int) -> None:
        await self._leave_groups()
        await super().disconnect(code)


class ChatConsumer(_GatedConsumer):
    """``api/support/chat/<session_id>``: the session's user or its assigned agent."""

    session: ChatSession | None = None
    role: str = ""
    gone: bool = False

    async def check_access(self, user: Any) -> bool:
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        found = await database_sync_to_async(selectors.chat_session_for_participant)(user=user, session_id=session_id)
        if found is None:
            return False
        self.session, self.role = found
        return True

    async def joined(self) -> None:
        self.limit = _RateLimit(settings.SUPPORT_CHAT_MESSAGE_BURST, settings.SUPPORT_CHAT_MESSAGES_PER_MINUTE)
        # Join before reading the history: a message stored in between arrives twice (same id), never not at all.
        await self.join(services.chat_group(self.session.pk))

    async def after_authenticated(self) -> None:
        history = await database_sync_to_async(self._history)()
        if history is None:
            await self.shut_out()
        await self.send_json(history)

    def _history(self) -> dict[str, Any] | None:
        """None when an agent's session was requeued between the access check and joining the group: that
        requeue's push went out before the socket was in the group, so this read (after joining) must catch it."""
        session = ChatSession.objects.select_related("agent__agent_profile").get(pk=self.session.pk)
        if self.role == ChatMessage.Role.AGENT and (
            session.agent_id != self.user.pk or session.status == ChatSession.Status.QUEUED
        ):
            return None
        state = selectors.chat_session_state(session=session)
        keys = ("session_id", "status", "queue_position", "estimated_wait_time", "agent", "user_context")
        return {
            "type": "history",
            "session": {**{k: state[k] for k in keys}, "ended_at": state["ended_at"], "role": self.role},
            "messages": [selectors.message_payload(m) for m in selectors.chat_message_list(session=session)],
        }

    async def on_message(self, content: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if self.gone:
            return
        if kind == "message":
            await self._message(content.get("body"))
        elif kind == "typing":
            await self.channel_layer.group_send(
                services.chat_group(self.session.pk),
                {"type": "chat.typing", "role": self.role, "is_typing": content.get("is_typing") is True},
            )
        elif kind == "read":
            await self.call(
                services.chat_mark_read,
                parallel=True,
                session=self.session,
                reader=self.user,
                up_to_id=content.get("up_to"),
            )
        elif kind == "end":
            await self.call(services.chat_session_end, session=self.session, by=self.user)
        else:
            await self.send_json(_error("unsupported_message", "Send message, typing, read or end."))

    async def _message(self, body: Any) -> None:
        if not isinstance(body, str) or not body.strip():
            await self.send_json(_error("empty_message", "A message needs some text."))
        elif len(body) > settings.SUPPORT_CHAT_MESSAGE_MAX_CHARS:
            limit = settings.SUPPORT_CHAT_MESSAGE_MAX_CHARS
            await self.send_json(_error("message_too_long", f"At most {limit} characters.", {"max_length": limit}))
        elif not self.limit.take():
            await self.send_json(_error("rate_limited", "Too many messages; slow down.", {"retry_after": 1}))
        else:
            await self.call(services.chat_message_add, parallel=True, session=self.session, sender=self.user, body=body)

    # --- events from the services (after commit) ---
    # An agent's socket drops everything after the session was taken from them (requeued): events already in
    # its channel when it left the group must not reach them either.

    async def forward(self, payload: dict[str, Any]) -> None:
        if not self.gone:
            await self.send_json(payload)

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.forward({"type": "message", "message": event["message"]})

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["role"] != self.role:
            await self.forward({"type": "typing", "role": event["role"], "is_typing": event["is_typing"]})

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event["role"] != self.role:
            await self.forward({"type": "read", **{k: event[k] for k in ("role", "up_to", "read_at")}})

    async def chat_queue(self, event: dict[str, Any]) -> None:
        if self.role == ChatMessage.Role.USER:
            keys = ("queue_position", "estimated_wait_time", "agent_available")
            await self.forward({"type": "queue", **{k: event[k] for k in keys}})

    async def chat_assigned(self, event: dict[str, Any]) -> None:
        await self.forward({"type": "assigned", "agent": event["agent"]})

    async def chat_requeued(self, event: dict[str, Any]) -> None:
        keys = ("queue_position", "estimated_wait_time")
        await self.forward({"type": "requeued", **{k: event[k] for k in keys}})
        if self.role == ChatMessage.Role.AGENT and not self.gone:
            self.gone = True
            await self._leave_groups()
            await self.close(code=CLOSE_NOT_FOUND)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        await self.forward({"type": "ended", "by": event["by"]})


class AgentConsoleConsumer(_GatedConsumer):
    """``ws/support/agent/``: the queue, the agent's chats, their presence and capacity."""

    refusal_code = CLOSE_NOT_AGENT
    counted: bool = False
    snapshot_at: float = 0

    async def check_access(self, user: Any) -> bool:
        return await database_sync_to_async(selectors.is_support_agent)(user)

    async def joined(self) -> None:
        await self.join(services.AGENTS_GROUP)
        await self.join(services.agent_group(self.user.pk))
        await database_sync_to_async(services.agent_console_connected)(agent=self.user)
        self.counted = True

    async def after_authenticated(self) -> None:
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        self.snapshot_at = time.time()
        await self.send_json(await database_sync_to_async(selectors.chat_console_snapshot)(agent=self.user))

    async def on_message(self, content: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "set_status" and content.get("status") in ("online", "away"):
            await self.call(services.agent_set_status, agent=self.user, status=content["status"])
        elif kind == "set_capacity":
            await self.call(services.agent_set_capacity, agent=self.user, capacity=content.get("capacity"))
        elif kind in ("accept", "end"):
            await self._on_session(kind, content.get("session_id"))
        elif kind == "set_status":
            await self.send_json(_error("invalid_status", "Status is online or away."))
        else:
            await self.send_json(_error("unsupported_message", "Send set_status, set_capacity, accept or end."))

    async def _on_session(self, kind: str, session_id: Any) -> None:
        session = ChatSession(pk=session_id) if isinstance(session_id, str) and session_id else None
        if session is None:
            await self.send_json(_error("invalid_input", "session_id is required."))
        elif kind == "accept":
            await self.call(services.chat_accept, session=session, agent=self.user)
        else:
            await self.call(services.chat_session_end, session=session, by=self.user)

    async def console_refresh(self, event: dict[str, Any]) -> None:
        # A snapshot read after the push was sent already shows what it announced: skip the duplicate.
        if event.get("at", 0) >= self.snapshot_at:
            await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.counted:
            self.counted = False
            await database_sync_to_async(services.agent_console_disconnected)(agent=self.user)
