"""Live chat: sessions, the queue, agent presence and assignment, messages, read receipts, ending, conversion to a
ticket.

Locking: every service that moves the queue locks all AgentProfile rows in pk order first (``_lock_agents``), then
the ChatSession rows it changes. Agents are few, so this is in effect one queue lock; taking it first everywhere
means two services never wait on each other in opposite orders.

Pushes go out after the commit through the channel layer: per-session events to ``support.chat.<id>``, and a
"refresh" to the consoles (``support.agents``, ``support.agent.<user id>``), which read their snapshot themselves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import weakref
from collections import deque
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from apps.support.models import AgentProfile, ChatMessage, ChatSession, Ticket
from apps.support.selectors import chat as selectors
from engipay.api.errors import Forbidden, InvalidInput, StateConflict

logger = logging.getLogger(__name__)

AGENTS_GROUP = "support.agents"
CAPACITY_RANGE = (1, 20)
Role = ChatMessage.Role
Status = ChatSession.Status


def chat_group(session_id: str) -> str:
    return f"support.chat.{session_id}"


def agent_group(user_id: Any) -> str:
    return f"support.agent.{user_id}"


# --- pushes ---------------------------------------------------------------------------------------------------


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _calling_event_loop()
    if loop is not None:
        # In a consumer's or an ASGI view's worker thread: hand the push to the event loop and return, so that
        # the thread (the one every consumer's database work goes through) does not wait on Redis.
        loop.call_soon_threadsafe(_outbox_add, loop, layer, group, message)
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # Runs after commit: the stored state is right (the API and the next snapshot show it).
        logger.exception("Could not send %s to %s", message.get("type"), group)


def _calling_event_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop whose sync_to_async call runs this thread, if any (asgiref records it per thread)."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop
    return None


# Pushes waiting to be sent, per event loop, in commit order; one task per loop sends them one after another so
# that a session's events arrive in the order they were committed.
_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, deque] = weakref.WeakKeyDictionary()


def _outbox_add(loop: asyncio.AbstractEventLoop, layer: Any, group: str, message: dict[str, Any]) -> None:
    outbox = _outboxes.setdefault(loop, deque())
    outbox.append((group, message))
    if len(outbox) == 1:  # no sender task running
        loop.create_task(_outbox_send(outbox, layer))


async def _outbox_send(outbox: deque, layer: Any) -> None:
    while outbox:
        group, message = outbox[0]
        try:
            await layer.group_send(group, message)
        except Exception:
            logger.exception("Could not send %s to %s", message.get("type"), group)
        outbox.popleft()


def _push_after_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _group_send(group, message))


def _push_queue_state() -> None:
    """Every queued session learns its position and estimate; every console is told to refresh."""
    stats = selectors.chat_queue_stats()
    for index, session_id in enumerate(selectors.chat_queue_ids(), start=1):
        _group_send(
            chat_group(session_id),
            {
                "type": "chat.queue",
                "queue_position": index,
                "estimated_wait_time": selectors.chat_wait_text(position=index, stats=stats),
                "agent_available": stats.agent_available,
            },
        )
    _group_send(AGENTS_GROUP, {"type": "console.refresh", "at": time.time()})


def _queue_changed() -> None:
    """Push the queue state once after the outermost commit, however many services ran in the transaction."""
    pending = getattr(connection, "run_on_commit", [])
    if any(entry[1] is _push_queue_state for entry in pending):
        return
    transaction.on_commit(_push_queue_state)


# --- agents ---------------------------------------------------------------------------------------------------


def _lock_agents() -> dict[Any, AgentProfile]:
    """All agent rows, locked in pk order (the queue lock), by user id."""
    return {p.user_id: p for p in AgentProfile.objects.select_for_update().order_by("pk")}


def agent_profile_for(*, agent: Any) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(
        user=agent,
        defaults={"capacity": settings.SUPPORT_AGENT_DEFAULT_CAPACITY, "display_name": agent.first_name},
    )
    return profile


@transaction.atomic
def agent_console_connected(*, agent: Any) -> AgentProfile:
    """Count one more open console socket of ``agent`` (a User); makes the profile on the first connection."""
    profile = agent_profile_for(agent=agent)
    AgentProfile.objects.filter(pk=profile.pk).update(console_connections=F("console_connections") + 1)
    profile.refresh_from_db()
    return profile


@transaction.atomic
def agent_console_disconnected(*, agent: Any) -> AgentProfile | None:
    """One console socket fewer; the last one closing sets the agent offline and hands their chats back."""
    profile = _lock_agents().get(agent.pk)
    if profile is None:
        return None
    AgentProfile.objects.filter(pk=profile.pk, console_connections__gt=0).update(
        console_connections=F("console_connections") - 1
    )
    profile.refresh_from_db()
    if profile.console_connections == 0:
        if profile.status != AgentProfile.Status.OFFLINE:
            _set_status(profile, AgentProfile.Status.OFFLINE)
        if chat_requeue_agent_sessions(agent=agent):
            chat_assign_waiting()
    return profile


def _set_status(profile: AgentProfile, status: str) -> None:
    profile.status = status
    profile.status_changed_at = timezone.now()
    profile.save(update_fields=["status", "status_changed_at"])
    _push_after_commit(agent_group(profile.user_id), {"type": "console.refresh", "at": time.time()})
    _queue_changed()


@transaction.atomic
def agent_set_status(*, agent: Any, status: str) -> AgentProfile:
    """online: takes chats; away: keeps their chats, takes no new ones; offline: their chats go back to the queue."""
    if status not in AgentProfile.Status.values:
        raise InvalidInput("invalid_status", f"Status is one of {', '.join(AgentProfile.Status.values)}.")
    agent_profile_for(agent=agent)
    profile = _lock_agents()[agent.pk]
    if profile.status != status:
        _set_status(profile, status)
        if status == AgentProfile.Status.OFFLINE:
            chat_requeue_agent_sessions(agent=agent)
        chat_assign_waiting()
    return profile


@transaction.atomic
def agent_set_capacity(*, agent: Any, capacity: int) -> AgentProfile:
    low, high = CAPACITY_RANGE
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not low <= capacity <= high:
        raise InvalidInput("invalid_capacity", f"Capacity is a whole number from {low} to {high}.")
    agent_profile_for(agent=agent)
    profile = _lock_agents()[agent.pk]
    profile.capacity = capacity
    profile.save(update_fields=["capacity"])
    _push_after_commit(agent_group(agent.pk), {"type": "console.refresh", "at": time.time()})
    _queue_changed()
    chat_assign_waiting()
    return profile


# --- assignment -----------------------------------------------------------------------------------------------


def _system_message(session: ChatSession, body: str) -> ChatMessage:
    message = ChatMessage.objects.create(session=session, role=Role.SYSTEM, body=body)
    payload = selectors.message_payload(message)
    _push_after_commit(chat_group(session.id), {"type": "chat.message", "message": payload})
    return message


def _assign(session: ChatSession, agent: Any) -> None:
    """Caller holds the queue lock and the session row."""
    now = timezone.now()
    session.status, session.agent, session.assigned_at = Status.ACTIVE, agent, now
    session.save(update_fields=["status", "agent", "assigned_at"])
    name = selectors.agent_display_name(agent)
    _system_message(session, f"{name} joined the chat.")
    _push_after_commit(
        chat_group(session.id), {"type": "chat.assigned", "agent_id": str(agent.pk), "agent": {"name": name}}
    )
    _queue_changed()


@transaction.atomic
def chat_assign_waiting() -> list[ChatSession]:
    """Give queued sessions, longest waiting first, to online agents below capacity: each to the one with the
    fewest active chats (tie: the oldest last assignment, then the lowest profile pk)."""
    profiles = [p for p in _lock_agents().values() if p.status == AgentProfile.Status.ONLINE and p.capacity > 0]
    if not profiles:
        return []
    user_ids = [p.user_id for p in profiles]
    active = dict(
        ChatSession.objects.filter(status=Status.ACTIVE, agent_id__in=user_ids)
        .values("agent_id")
        .annotate(n=Count("id"))
        .values_list("agent_id", "n")
    )
    last = dict(
        ChatSession.objects.filter(agent_id__in=user_ids, assigned_at__isnull=False)
        .values("agent_id")
        .annotate(at=Max("assigned_at"))
        .values_list("agent_id", "at")
    )
    free = sum(max(p.capacity - active.get(p.user_id, 0), 0) for p in profiles)
    if free == 0:
        return []
    queued = list(
        ChatSession.objects.select_for_update()
        .filter(status=Status.QUEUED, user__is_active=True)
        .order_by("waiting_since", "id")[:free]
    )
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids, is_active=True)}
    assigned = []
    for session in queued:
        candidates = [p for p in profiles if p.user_id in users and active.get(p.user_id, 0) < p.capacity]
        if not candidates:
            break
        best = min(candidates, key=lambda p: (active.get(p.user_id, 0), last.get(p.user_id) is not None,
                                              last.get(p.user_id) or timezone.now(), p.pk))  # fmt: skip
        agent = users[best.user_id]
        agent.agent_profile = best
        _assign(session, agent)
        active[best.user_id] = active.get(best.user_id, 0) + 1
        last[best.user_id] = session.assigned_at
        assigned.append(session)
    return assigned


@transaction.atomic
def chat_accept(*, session: ChatSession, agent: Any) -> ChatSession:
    """An agent takes a specific queued session from the console, when below capacity."""
    agent_profile_for(agent=agent)
    profile = _lock_agents()[agent.pk]
    session = ChatSession.objects.select_for_update().get(pk=session.pk)
    if session.status != Status.QUEUED:
        raise StateConflict("not_queued", "This chat is no longer waiting in the queue.")
    if profile.status == AgentProfile.Status.OFFLINE:
        raise StateConflict("agent_offline", "Go online or away before taking chats.")
    active = ChatSession.objects.filter(status=Status.ACTIVE, agent=agent).count()
    if active >= profile.capacity:
        raise StateConflict("at_capacity", f"You already have {active} chats (capacity {profile.capacity}).")
    agent.agent_profile = profile
    _assign(session, agent)
    return session


def chat_requeue_agent_sessions(*, agent: Any) -> list[ChatSession]:
    """The agent's active sessions go back to the queue, keeping their place (``waiting_since``). Caller holds
    the queue lock (runs inside agent_set_status / agent_console_disconnected)."""
    sessions = list(ChatSession.objects.select_for_update().filter(status=Status.ACTIVE, agent=agent).order_by("id"))
    if not sessions:
        return []
    name = selectors.agent_display_name(agent)
    for session in sessions:
        session.status, session.agent, session.assigned_at = Status.QUEUED, None, None
        session.save(update_fields=["status", "agent", "assigned_at"])
    stats = selectors.chat_queue_stats()
    for session in sessions:
        _system_message(session, f"{name} left the chat; you are back in the queue.")
        position = selectors.chat_queue_position(session=session)
        _push_after_commit(
            chat_group(session.id),
            {
                "type": "chat.requeued",
                "previous_agent_id": str(agent.pk),
                "queue_position": position,
                "estimated_wait_time": selectors.chat_wait_text(position=position, stats=stats),
            },
        )
    _queue_changed()
    return sessions


# --- sessions -------------------------------------------------------------------------------------------------


@transaction.atomic
def chat_session_create(*, user: Any, initial_message: str, user_context: dict[str, Any]) -> tuple[ChatSession, bool]:
    """(session, created): the user's open session if they have one, else a new queued one offered at once to
    the agents. The initial message is the session's first message."""
    # Two requests of one user must not both see "no open session": serialise them on the user row.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    existing = selectors.chat_session_open_for_user(user=user)
    if existing is not None:
        return existing, False
    session = ChatSession.objects.create(
        id=f"chat_{secrets.token_urlsafe(16)}",
        user=user,
        initial_message=initial_message,
        user_context=user_context,
        waiting_since=timezone.now(),
    )
    ChatMessage.objects.create(session=session, sender=user, role=Role.USER, body=initial_message)
    _queue_changed()
    chat_assign_waiting()
    session.refresh_from_db()
    return session, True


def _role_of(session: ChatSession, user: Any) -> str:
    if session.user_id == user.pk:
        return Role.USER
    if session.agent_id == user.pk and session.status == Status.ACTIVE:
        return Role.AGENT
    if session.agent_id == user.pk and session.status == Status.ENDED:
        return Role.AGENT
    raise Forbidden("not_assigned", "You are not a party to this chat.")


def _relaxed_durability() -> None:
    """Chat lines and read marks commit without waiting for the WAL flush (PostgreSQL ``synchronous_commit``
    off, this transaction only): a server crash may lose the last fraction of a second of chat, never corrupt or
    half-apply anything. The flush wait was most of a message's server time (see bench/chat.py)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@transaction.atomic
def chat_message_add(*, session: ChatSession, sender: Any, body: str) -> ChatMessage:
    """Store a message of the session's user or its assigned agent and send it to both parties (sender too)."""
    body = body.strip() if isinstance(body, str) else ""
    if not body:
        raise InvalidInput("empty_message", "A message needs some text.")
    if len(body) > settings.SUPPORT_CHAT_MESSAGE_MAX_CHARS:
        raise InvalidInput("message_too_long", f"At most {settings.SUPPORT_CHAT_MESSAGE_MAX_CHARS} characters.")
    _relaxed_durability()
    # The row lock orders a message against a concurrent end or requeue of the session.
    locked = ChatSession.objects.select_for_update().only("id", "status", "user_id", "agent_id").get(pk=session.pk)
    if locked.status == Status.ENDED:
        raise StateConflict("session_ended", "This chat has ended.")
    role = _role_of(locked, sender)
    if role == Role.AGENT and locked.status != Status.ACTIVE:
        raise Forbidden("not_assigned", "This chat is not assigned to you.")
    message = ChatMessage.objects.create(session_id=locked.pk, sender=sender, role=role, body=body)
    payload = selectors.message_payload(message, name=selectors.sender_name(role=role, sender=sender))
    _push_after_commit(chat_group(locked.pk), {"type": "chat.message", "message": payload})
    return message


@transaction.atomic
def chat_mark_read(*, session: ChatSession, reader: Any, up_to_id: int) -> int:
    """Mark the other party's messages up to ``up_to_id`` read; tell the other party. Returns how many."""
    if isinstance(up_to_id, bool) or not isinstance(up_to_id, int) or up_to_id < 1:
        raise InvalidInput("invalid_read", "up_to is a message id.")
    # The caller's session may be stale (a chat socket holds it from joining): check the row as it is now.
    session = ChatSession.objects.only("id", "status", "user_id", "agent_id").get(pk=session.pk)
    role = _role_of(session, reader)
    _relaxed_durability()
    now = timezone.now()
    others = ChatMessage.objects.filter(session_id=session.pk, id__lte=up_to_id, read_at__isnull=True)
    others = others.exclude(role=role).exclude(role=Role.SYSTEM)
    count = others.update(read_at=now)
    if count:
        _push_after_commit(
            chat_group(session.pk),
            {"type": "chat.read", "role": role, "up_to": up_to_id, "read_at": selectors._iso(now)},
        )
    return count


@transaction.atomic
def chat_session_end(*, session: ChatSession, by: Any) -> ChatSession:
    """Either party ends the chat; a queued session leaves the queue, an agent's slot frees up."""
    _lock_agents()
    session = ChatSession.objects.select_for_update().get(pk=session.pk)
    if session.status == Status.ENDED:
        raise StateConflict("session_ended", "This chat has already ended.")
    role = _role_of(session, by)
    session.status, session.ended_at, session.ended_by = Status.ENDED, timezone.now(), by
    session.save(update_fields=["status", "ended_at", "ended_by"])
    _system_message(session, f"Chat ended by the {'user' if role == Role.USER else 'agent'}.")
    _push_after_commit(chat_group(session.id), {"type": "chat.ended", "by": role})
    _queue_changed()
    chat_assign_waiting()
    return session


def _transcript(session: ChatSession) -> str:
    lines = [f"Live chat {session.id}, started {session.created_at:%Y-%m-%d %H:%M} UTC."]
    if session.user_context:
        context = ", ".join(f"{key}={value}" for key, value in session.user_context.items())
        lines.append(f"User context: {context}")
    lines.append("")
    for message in selectors.chat_message_list(session=session):
        name = selectors.sender_name(role=message.role, sender=message.sender)
        lines.append(f"[{message.created_at:%H:%M:%S}] {name} ({message.role}): {message.body}")
    return "\n".join(lines)


@transaction.atomic
def chat_session_convert_to_ticket(*, session: ChatSession, by: Any) -> Ticket:
    """The chat becomes a ticket (category other, transcript as description), ending the chat if needed.
    Idempotent: a second call returns the same ticket."""
    from apps.support.services import tickets

    _lock_agents()  # ending the chat below moves the queue: same lock order as every other service
    session = ChatSession.objects.select_for_update().get(pk=session.pk)
    _role_of(session, by)
    if session.ticket_id:
        return session.ticket
    if session.status != Status.ENDED:
        session = chat_session_end(session=session, by=by)
    subject = f"Live chat: {session.initial_message.splitlines()[0][:180]}"
    ticket = tickets.ticket_create(
        user=session.user, subject=subject, description=_transcript(session), category="other"
    )
    session.ticket = ticket
    session.save(update_fields=["ticket"])
    return ticket
