from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.support.selectors import chat as selectors
from apps.support.services import chat as services
from engipay.api.pagination import paginator_for
from engipay.api.validation import ErrorSerializer, validated

from .chat_serializers import (
    ChatMessageOutput,
    ChatMessagePageOutput,
    ChatSessionCreateInput,
    ChatSessionOutput,
    ChatSessionPageOutput,
    ChatTicketOutput,
)
from .ticket_views import THROTTLES

TAGS = ["support chat"]
SESSION = {
    "session_id": "chat_Vn3kq1cG0vA5JdQp7x2u8w",
    "status": "queued",
    "queue_position": 2,
    "estimated_wait_time": "2 minutes",
    "agent_available": False,
    "agent": None,
    "websocket_url": "/api/support/chat/chat_Vn3kq1cG0vA5JdQp7x2u8w",
    "user_context": {"current_page": "/payments-swaps", "wallet_connected": True, "last_transaction": "swap_123"},
    "ticket_id": None,
    "created_at": "2026-11-26T10:30:00Z",
    "assigned_at": None,
    "ended_at": None,
}
CREATE_REQUEST = OpenApiExample(
    "Start a chat",
    value={"initial_message": "I need help with cross-chain swaps", "user_context": SESSION["user_context"]},
    request_only=True,
)
SESSION_EXAMPLE = OpenApiExample("A queued chat", value=SESSION, response_only=True, status_codes=["200", "201"])
BAD_INPUT = OpenApiExample(
    "Missing message",
    value={
        "error": {
            "code": "invalid_input",
            "message": "initial_message: This field is required.",
            "details": {"initial_message": ["This field is required."]},
        }
    },
    response_only=True,
    status_codes=["400"],
)
MESSAGES_EXAMPLE = OpenApiExample(
    "Chat history",
    value={
        "messages": [
            {
                "id": 41,
                "role": "user",
                "sender": "User",
                "body": "I need help with cross-chain swaps",
                "created_at": "2026-11-26T10:30:00Z",
                "read_at": "2026-11-26T10:31:02Z",
            },
            {
                "id": 42,
                "role": "agent",
                "sender": "Dana",
                "body": "Hi! Which swap is it?",
                "created_at": "2026-11-26T10:31:05Z",
                "read_at": None,
            },
        ],
        "total_count": 2,
        "limit": 50,
        "offset": 0,
        "has_more": False,
    },
    response_only=True,
)
TICKET_EXAMPLE = OpenApiExample(
    "The chat as a ticket",
    value={
        "ticket_id": "TKT-482913",
        "session_id": SESSION["session_id"],
        "status": "open",
        "subject": "Live chat: I need help with cross-chain swaps",
        "created_at": "2026-11-26T10:45:00Z",
    },
    response_only=True,
)
PAGE = [OpenApiParameter("limit", OpenApiTypes.INT), OpenApiParameter("offset", OpenApiTypes.INT)]
ERRORS = {401: ErrorSerializer, 404: ErrorSerializer}


def _state(session) -> dict:
    return ChatSessionOutput(selectors.chat_session_state(session=session)).data


class ChatSessionCollectionView(APIView):
    throttle_classes = THROTTLES  # starting a chat pushes to every queued user and every console
    paginator_class = paginator_for("sessions")

    @extend_schema(
        tags=TAGS,
        summary="Start a live chat (or get the open one)",
        description="201 with a new queued session offered to the agents at once; 200 with the caller's open "
        "(queued or active) session when there is one. Then open the websocket at `websocket_url`.",
        request=ChatSessionCreateInput,
        responses={200: ChatSessionOutput, 201: ChatSessionOutput, 400: ErrorSerializer, 401: ErrorSerializer},
        examples=[CREATE_REQUEST, SESSION_EXAMPLE, BAD_INPUT],
    )
    def post(self, request: Request) -> Response:
        data = validated(ChatSessionCreateInput, request.data)
        session, created = services.chat_session_create(user=request.user, **data)
        return Response(_state(session), status=201 if created else 200)

    @extend_schema(
        tags=TAGS,
        summary="The caller's chat sessions, newest first",
        operation_id="support_chat_sessions_list",
        parameters=PAGE,
        responses={200: ChatSessionPageOutput, 401: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(selectors.chat_session_list_for_user(user=request.user), request, self)
        stats = selectors.chat_queue_stats()
        data = [ChatSessionOutput(selectors.chat_session_state(session=s, stats=stats)).data for s in page]
        return paginator.get_paginated_response(data)


class ChatSessionDetailView(APIView):
    @extend_schema(tags=TAGS, summary="One chat session", responses={200: ChatSessionOutput, **ERRORS})
    def get(self, request: Request, session_id: str) -> Response:
        return Response(_state(selectors.chat_session_get_for_user(user=request.user, session_id=session_id)))


class ChatSessionMessagesView(APIView):
    paginator_class = paginator_for("messages")

    @extend_schema(
        tags=TAGS,
        summary="Chat history, oldest first",
        parameters=PAGE,
        responses={200: ChatMessagePageOutput, **ERRORS},
        examples=[MESSAGES_EXAMPLE],
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = selectors.chat_session_get_for_user(user=request.user, session_id=session_id)
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(selectors.chat_message_list(session=session), request, self)
        return paginator.get_paginated_response(
            ChatMessageOutput([selectors.message_payload(m) for m in page], many=True).data
        )


class ChatSessionEndView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="End the chat",
        description="409 `session_ended` when it has already ended.",
        request=None,
        responses={200: ChatSessionOutput, 409: ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = selectors.chat_session_get_for_user(user=request.user, session_id=session_id)
        return Response(_state(services.chat_session_end(session=session, by=request.user)))


class ChatSessionTicketView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Turn the chat into a ticket",
        description="Ends the chat if it is still open and opens a ticket (category `other`) with the transcript. "
        "Idempotent: calling it again returns the same ticket (200 both times).",
        request=None,
        responses={200: ChatTicketOutput, **ERRORS},
        examples=[TICKET_EXAMPLE],
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = selectors.chat_session_get_for_user(user=request.user, session_id=session_id)
        ticket = services.chat_session_convert_to_ticket(session=session, by=request.user)
        data = {"ticket_id": ticket.id, "session_id": session.id, "status": ticket.status, "subject": ticket.subject}
        return Response(ChatTicketOutput({**data, "created_at": ticket.created_at}).data)
