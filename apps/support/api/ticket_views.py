from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from apps.support.models import Priority, Ticket
from apps.support.selectors import tickets as selectors
from apps.support.services import attachments as attachment_services
from apps.support.services import tickets as services
from engipay.api.pagination import paginator_for
from engipay.api.parsers import WriteThrottle, bounded_parsers
from engipay.api.validation import ErrorSerializer, validated

from .ticket_serializers import (
    TicketCreatedOutput,
    TicketCreateInput,
    TicketDetailOutput,
    TicketListItemOutput,
    TicketMessageInput,
    TicketMessageOutput,
    TicketPageOutput,
)


class SupportWriteThrottle(WriteThrottle):
    """New tickets and replies per user (they carry uploads); reads are not counted."""

    scope = "support_write"


PARSERS = bounded_parsers("SUPPORT_REQUEST_MAX_BYTES")
THROTTLES = [UserRateThrottle, SupportWriteThrottle]
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer, 413: ErrorSerializer}
CREATED = {
    "ticket_id": "TKT-482913",
    "status": "open",
    "priority": "medium",
    "estimated_response_time": "8 hours",
    "created_at": "2024-01-24T10:30:00Z",
    "requested_priority": "medium",
    "category": "technical",
    "team": "technical",
    "first_response_due_at": "2024-01-24T18:30:00Z",
}
CREATE_DESCRIPTION = (
    "Opens a ticket routed to the team that handles its category (else general support). `priority` is the "
    "requested one, raised for some categories: `funds_at_risk` is always urgent, `security` at least high; the "
    "response shows the final `priority` and the `requested_priority`. `estimated_response_time` comes from the "
    "team's recent first-response times (or its SLA) and the tickets of the same or higher priority waiting "
    "ahead, shared among its agents. Attachments are refused with `attachment_*` codes (`details.index` names "
    "the item) and then nothing is stored. Accepts JSON (base64 attachments) or multipart/form-data."
)


class TicketListCreateView(APIView):
    parser_classes = PARSERS
    throttle_classes = THROTTLES
    paginator_class = paginator_for("tickets")

    @extend_schema(
        tags=["support"],
        operation_id="support_tickets_list",
        summary="My support tickets",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Ticket.Status.values),
            OpenApiParameter("category", OpenApiTypes.STR, enum=Ticket.Category.values),
            OpenApiParameter("priority", OpenApiTypes.STR, enum=Priority.values),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 100, default 20"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="0 or more, default 0"),
        ],
        request=None,
        responses={200: TicketPageOutput, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.ticket_list_for_user(user=request.user, filters=request.query_params)
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TicketListItemOutput(page, many=True).data)

    @extend_schema(
        tags=["support"],
        operation_id="support_tickets_create",
        summary="Open a support ticket",
        description=CREATE_DESCRIPTION,
        request={"application/json": TicketCreateInput, "multipart/form-data": TicketCreateInput},
        responses={201: TicketCreatedOutput, **ERRORS, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A wallet problem",
                value={
                    "subject": "Unable to connect wallet",
                    "description": "Detailed description of the issue...",
                    "category": "technical",
                    "priority": "medium",
                    "attachments": ["data:image/png;base64,iVBORw0KGgo..."],
                    "user_agent": "Mozilla/5.0...",
                    "wallet_address": "0x1234...abcd",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=CREATED, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(TicketCreateInput, request.data)
        ticket = services.ticket_create(user=request.user, **data)
        return Response(TicketCreatedOutput(ticket).data, status=201)


class TicketDetailView(APIView):
    @extend_schema(
        tags=["support"],
        operation_id="support_tickets_retrieve",
        summary="A ticket with its thread",
        description="The public thread (agents' internal notes are never shown) and every attachment you can "
        "download. Another user's ticket is a 404.",
        request=None,
        responses={200: TicketDetailOutput, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, ticket_id: str) -> Response:
        ticket = selectors.ticket_detail_for_user(user=request.user, ticket_id=ticket_id)
        return Response(TicketDetailOutput(ticket, context={"request": request}).data)


class TicketMessageCreateView(APIView):
    parser_classes = PARSERS
    throttle_classes = THROTTLES

    @extend_schema(
        tags=["support"],
        operation_id="support_ticket_messages_create",
        summary="Reply on my ticket",
        description="Adds your message (JSON with base64 attachments, or multipart/form-data). A pending, "
        "resolved or closed ticket is reopened.",
        request={"application/json": TicketMessageInput, "multipart/form-data": TicketMessageInput},
        responses={201: TicketMessageOutput, **ERRORS, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A reply", value={"message": "Still failing after the update.", "attachments": []}, request_only=True
            )
        ],
    )
    def post(self, request: Request, ticket_id: str) -> Response:
        ticket = selectors.ticket_get_for_user(user=request.user, ticket_id=ticket_id)
        data = validated(TicketMessageInput, request.data)
        message = services.ticket_message_add(ticket=ticket, author=request.user, **data)
        return Response(TicketMessageOutput(message, context={"request": request}).data, status=201)


class TicketAttachmentDownloadView(APIView):
    @extend_schema(
        tags=["support"],
        operation_id="support_ticket_attachment_download",
        summary="Download an attachment of my ticket",
        description="The file as a download (`Content-Disposition: attachment`, `X-Content-Type-Options: "
        "nosniff`, `Content-Security-Policy: sandbox`), with the type recognised from its content.",
        request=None,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file"),
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, ticket_id: str, attachment_id: int) -> FileResponse:
        attachment = selectors.attachment_get_for_user(
            user=request.user, ticket_id=ticket_id, attachment_id=attachment_id
        )
        return attachment_services.attachment_response(attachment)
