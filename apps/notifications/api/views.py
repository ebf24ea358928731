from __future__ import annotations

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.notifications import selectors, services
from engipay.api.pagination import paginator_for
from engipay.api.validation import ErrorSerializer

from .serializers import MarkAllReadOutput, NotificationOutput, NotificationPageOutput, UnreadCountOutput

LIST_EXAMPLE = OpenApiExample(
    "A page of notifications",
    value={
        "notifications": [
            {
                "id": "7d0c3f0e-5f7a-4a8e-9a59-3f1c2b8a6c11",
                "type": "transaction_confirmed",
                "title": "Transaction Confirmed",
                "message": "Your ETH transfer has been confirmed",
                "data": {"tx_hash": "0x…", "amount": "0.5", "asset": "ETH"},
                "read": False,
                "read_at": None,
                "created_at": "2026-11-26T10:30:00Z",
            }
        ],
        "total_count": 1,
        "limit": 20,
        "offset": 0,
        "has_more": False,
        "unread_count": 1,
    },
    response_only=True,
)


class NotificationListView(APIView):
    paginator_class = paginator_for("notifications")

    @extend_schema(
        tags=["notifications"],
        parameters=[
            OpenApiParameter("read", OpenApiTypes.BOOL, description="true: read only; false: unread only"),
            OpenApiParameter("type", OpenApiTypes.STR, description="Only this notification type"),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: NotificationPageOutput, 400: ErrorSerializer, 401: ErrorSerializer},
        examples=[LIST_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        qs = selectors.notification_list_for_user(user=request.user, filters=request.query_params)
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            NotificationOutput(page, many=True).data,
            unread_count=selectors.notification_unread_count(user=request.user),
        )


class NotificationReadView(APIView):
    @extend_schema(
        tags=["notifications"],
        request=None,
        responses={200: NotificationOutput, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request: Request, notification_id: UUID) -> Response:
        notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
        notification = services.notification_mark_read(notification=notification)
        return Response(NotificationOutput(notification).data)


class NotificationReadAllView(APIView):
    @extend_schema(tags=["notifications"], request=None, responses={200: MarkAllReadOutput, 401: ErrorSerializer})
    def post(self, request: Request) -> Response:
        updated = services.notification_mark_all_read(user=request.user)
        return Response({"updated": updated, "unread_count": selectors.notification_unread_count(user=request.user)})


class NotificationUnreadCountView(APIView):
    @extend_schema(tags=["notifications"], responses={200: UnreadCountOutput, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread_count": selectors.notification_unread_count(user=request.user)})


class NotificationDetailView(APIView):
    @extend_schema(
        tags=["notifications"],
        operation_id="notifications_detail",
        responses={200: NotificationOutput, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, notification_id: UUID) -> Response:
        notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
        return Response(NotificationOutput(notification).data)

    @extend_schema(
        tags=["notifications"],
        description="Removes it from the user's list (and stops its email / push / SMS not yet sent).",
        responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def delete(self, request: Request, notification_id: UUID) -> Response:
        notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
        services.notification_delete(notification=notification)
        return Response(status=204)
