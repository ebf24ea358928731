"""Read side of live chat: sessions scoped to their user or agent, queue positions, wait estimates, the payloads
the API and the sockets send, and the agent console snapshot."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.support.models import AgentProfile, ChatMessage, ChatSession, Ticket

OPEN_STATUSES = (ChatSession.Status.QUEUED, ChatSession.Status.ACTIVE)
AGENT_PERMISSION = "support.change_chatsession"
NO_AGENTS_ONLINE = "no agents online"


def chat_websocket_path(session_id: str) -> str:
    return f"/api/support/chat/{session_id}"


def is_support_agent(user: Any) -> bool:
    """Agents are active staff users holding ``support.change_chatsession`` (the "Support agents" group)."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(AGENT_PERMISSION))


# --- sessions -------------------------------------------------------------------------------------------------


def chat_session_list_for_user(*, user: Any) -> QuerySet[ChatSession]:
    return ChatSession.objects.filter(user=user).select_related("agent__agent_profile").order_by("-created_at", "id")


def chat_session_get_for_user(*, user: Any, session_id: str) -> ChatSession:
    """The caller's own session; anyone else's is a 404."""
    return get_object_or_404(chat_session_list_for_user(user=user), pk=session_id)


def chat_session_open_for_user(*, user: Any) -> ChatSession | None:
    return chat_session_list_for_user(user=user).filter(status__in=OPEN_STATUSES).first()


def chat_session_for_participant(*, user: Any, session_id: str) -> tuple[ChatSession, str] | None:
    """(session, role) when ``user`` may join the session's socket: its user, or its currently assigned agent."""
    session = ChatSession.objects.select_related("user", "agent__agent_profile").filter(pk=session_id).first()
    if session is None:
        return None
    if session.user_id == user.pk:
        return session, ChatMessage.Role.USER
    if session.agent_id == user.pk and session.status != ChatSession.Status.QUEUED and is_support_agent(user):
        agent_display_name(user)  # loads the profile onto ``user``: the socket's messages then need no query for it
        return session, ChatMessage.Role.AGENT
    return None


def chat_message_list(*, session: ChatSession) -> QuerySet[ChatMessage]:
    return session.messages.select_related("sender__agent_profile").order_by("created_at", "id")


# --- names ----------------------------------------------------------------------------------------------------


def agent_display_name(user: Any) -> str:
    """What users see of an agent: the profile's display name or the first name, never the email."""
    profile = getattr(user, "agent_profile", None) if user is not None else None
    return (profile.display_name if profile else "") or (user.first_name if user else "") or "Support agent"


def user_display_name(user: Any) -> str:
    return (user.first_name if user else "") or "User"


def sender_name(*, role: str, sender: Any) -> str:
    if role == ChatMessage.Role.AGENT:
        return agent_display_name(sender)
    if role == ChatMessage.Role.USER:
        return user_display_name(sender)
    return "EngiPay Support"


def message_payload(message: ChatMessage, *, name: str | None = None) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        "sender": name if name is not None else sender_name(role=message.role, sender=message.sender),
        "body": message.body,
        "created_at": _iso(message.created_at),
        "read_at": _iso(message.read_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- queue and estimates --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    agents_online: int
    total_capacity: int
    free_capacity: int
    handling_minutes: int

    @property
    def agent_available(self) -> bool:
        return self.free_capacity > 0


def chat_queue_stats() -> QueueStats:
    online = AgentProfile.objects.filter(status=AgentProfile.Status.ONLINE, user__is_active=True).annotate(
        active=Count("user__agent_chats", filter=Q(user__agent_chats__status=ChatSession.Status.ACTIVE))
    )
    rows = list(online.values_list("capacity", "active"))
    return QueueStats(
        agents_online=len(rows),
        total_capacity=sum(capacity for capacity, _ in rows),
        free_capacity=sum(max(capacity - active, 0) for capacity, active in rows),
        handling_minutes=chat_average_handling_minutes(),
    )


def chat_average_handling_minutes() -> int:
    """Mean of (ended - assigned) over chats ended in the last 24 h; the setting's default under 3 such chats."""
    since = timezone.now() - timedelta(hours=24)
    pairs = list(
        ChatSession.objects.filter(ended_at__gte=since, assigned_at__isnull=False)
        .order_by("-ended_at")
        .values_list("assigned_at", "ended_at")[:500]
    )
    if len(pairs) < 3:
        return settings.SUPPORT_CHAT_DEFAULT_HANDLING_MINUTES
    total = sum((ended - assigned for assigned, ended in pairs), timedelta())
    return max(1, math.ceil(total.total_seconds() / 60 / len(pairs)))


def chat_wait_text(*, position: int, stats: QueueStats) -> str:
    """Online agents finish ``total_capacity`` chats per handling time, so the n-th in line waits about
    n * handling / capacity (rounded up to whole minutes); nobody online is said as such."""
    if position == 0:
        return "0 minutes"
    if stats.total_capacity == 0:
        return NO_AGENTS_ONLINE
    minutes = max(1, math.ceil(stats.handling_minutes * position / stats.total_capacity))
    if minutes >= 90:
        return f"about {round(minutes / 60)} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def chat_queue_position(*, session: ChatSession) -> int:
    """0 unless queued; else 1-based among queued sessions by ``waiting_since`` (then id)."""
    if session.status != ChatSession.Status.QUEUED:
        return 0
    ahead = ChatSession.objects.filter(status=ChatSession.Status.QUEUED).filter(
        Q(waiting_since__lt=session.waiting_since) | Q(waiting_since=session.waiting_since, id__lt=session.id)
    )
    return ahead.count() + 1


def chat_queue_ids() -> list[str]:
    return list(
        ChatSession.objects.filter(status=ChatSession.Status.QUEUED)
        .order_by("waiting_since", "id")
        .values_list("id", flat=True)
    )


def chat_session_state(*, session: ChatSession, stats: QueueStats | None = None) -> dict[str, Any]:
    """What the API and the chat socket tell about a session (the guide's fields and ours)."""
    stats = stats or chat_queue_stats()
    position = chat_queue_position(session=session)
    agent = session.agent if session.status != ChatSession.Status.QUEUED else None
    return {
        "session_id": session.id,
        "status": session.status,
        "queue_position": position,
        "estimated_wait_time": chat_wait_text(position=position, stats=stats)
        if session.status == ChatSession.Status.QUEUED
        else "0 minutes",
        "agent_available": stats.agent_available,
        "agent": {"name": agent_display_name(agent)} if agent is not None else None,
        "websocket_url": chat_websocket_path(session.id),
        "user_context": session.user_context,
        "ticket_id": session.ticket_id,
        "created_at": _iso(session.created_at),
        "assigned_at": _iso(session.assigned_at),
        "ended_at": _iso(session.ended_at),
    }


# --- agent console --------------------------------------------------------------------------------------------


def _user_label(user: Any) -> str:
    wallets = sorted(
        user.wallets.all(), key=lambda w: (w.last_sign_in_at is not None, w.last_sign_in_at or w.created_at)
    )
    if wallets:
        return wallets[-1].address
    return user.email or str(user.pk)


def chat_recent_tickets(*, user_id: Any) -> list[dict[str, Any]]:
    tickets = Ticket.objects.filter(user_id=user_id).order_by("-created_at", "id")[:5]
    return [
        {"ticket_id": t.id, "subject": t.subject, "status": t.status, "created_at": _iso(t.created_at)} for t in tickets
    ]


def _summary(session: ChatSession, position: int, tickets: dict[Any, list]) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "status": session.status,
        "user": {"id": str(session.user_id), "name": _user_label(session.user)},
        "initial_message": session.initial_message,
        "user_context": session.user_context,
        "waiting_since": _iso(session.waiting_since),
        "queue_position": position,
        "assigned_at": _iso(session.assigned_at),
        "recent_tickets": tickets[session.user_id],
    }


def chat_console_snapshot(*, agent: Any) -> dict[str, Any]:
    """The agent console's view: their presence and load, the queue (oldest first) and their active chats."""
    profile = AgentProfile.objects.filter(user=agent).first()
    base = ChatSession.objects.select_related("user").prefetch_related("user__wallets")
    queue = list(
        base.filter(status=ChatSession.Status.QUEUED).order_by("waiting_since", "id")[
            : settings.SUPPORT_CHAT_CONSOLE_QUEUE_LIMIT
        ]
    )
    chats = list(base.filter(status=ChatSession.Status.ACTIVE, agent=agent).order_by("assigned_at", "id"))
    tickets = {user_id: chat_recent_tickets(user_id=user_id) for user_id in {s.user_id for s in queue + chats}}
    return {
        "type": "console",
        "agent": {
            "status": profile.status if profile else AgentProfile.Status.OFFLINE,
            "capacity": profile.capacity if profile else settings.SUPPORT_AGENT_DEFAULT_CAPACITY,
            "active_chats": len(chats),
            "name": agent_display_name(agent),
        },
        "queue": [_summary(s, index + 1, tickets) for index, s in enumerate(queue)],
        "chats": [_summary(s, 0, tickets) for s in chats],
    }
