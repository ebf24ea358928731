from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import serializers

USER_CONTEXT_MAX_KEYS = 20
USER_CONTEXT_MAX_VALUE_CHARS = 200
USER_CONTEXT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
INT_LIMIT = 10**15


def _check_context_value(key: str, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > INT_LIMIT:
            raise serializers.ValidationError({key: "Numbers are whole and at most 10^15 (send others as text)."})
        return
    if isinstance(value, str):
        if len(value) > USER_CONTEXT_MAX_VALUE_CHARS:
            raise serializers.ValidationError({key: f"At most {USER_CONTEXT_MAX_VALUE_CHARS} characters."})
        return
    raise serializers.ValidationError({key: "Values are text, whole numbers, true/false or null."})


class UserContextField(serializers.JSONField):
    """Where the user was when they asked: a flat object of at most 20 small scalar values."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError("An object of small values is expected.")
        if len(data) > USER_CONTEXT_MAX_KEYS:
            raise serializers.ValidationError(f"At most {USER_CONTEXT_MAX_KEYS} keys.")
        for key, value in data.items():
            if not USER_CONTEXT_KEY.match(key):
                raise serializers.ValidationError(
                    "Keys are letters, digits and _ (at most 50), starting with a letter."
                )
            _check_context_value(key, value)
        return data


class ChatSessionCreateInput(serializers.Serializer):
    initial_message = serializers.CharField(max_length=settings.SUPPORT_CHAT_MESSAGE_MAX_CHARS)
    user_context = UserContextField(required=False, default=dict)


class ChatAgentOutput(serializers.Serializer):
    name = serializers.CharField()


class ChatSessionOutput(serializers.Serializer):
    session_id = serializers.CharField(help_text='"chat_" and a random token.')
    status = serializers.CharField(help_text="queued (waiting for an agent), active (with an agent) or ended.")
    queue_position = serializers.IntegerField(help_text="0 unless queued; else 1-based, the longest waiting first.")
    estimated_wait_time = serializers.CharField(
        help_text='From the queue and recent handling times ("2 minutes"); "0 minutes" once an agent has the '
        'chat; "no agents online" when nobody is online to take it.'
    )
    agent_available = serializers.BooleanField(help_text="Some online agent has a free chat slot right now.")
    agent = ChatAgentOutput(allow_null=True, help_text="The assigned agent's display name (null while queued).")
    websocket_url = serializers.CharField(help_text="Path of the chat websocket (token in ?token= or a first message).")
    user_context = serializers.DictField()
    ticket_id = serializers.CharField(allow_null=True, help_text="The ticket the chat was converted into.")
    created_at = serializers.DateTimeField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class ChatSessionPageOutput(serializers.Serializer):
    sessions = ChatSessionOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()


class ChatMessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["user", "agent", "system"])
    sender = serializers.CharField(help_text="Display name; an agent's profile name or first name, never an email.")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True, help_text="When the other party read it.")


class ChatMessagePageOutput(serializers.Serializer):
    messages = ChatMessageOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()


class ChatTicketOutput(serializers.Serializer):
    ticket_id = serializers.CharField()
    session_id = serializers.CharField()
    status = serializers.CharField(help_text="The ticket's status.")
    subject = serializers.CharField()
    created_at = serializers.DateTimeField()
