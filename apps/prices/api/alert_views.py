from __future__ import annotations

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from apps.prices import alerts
from apps.prices.models import PriceAlert
from engipay.api.pagination import paginator_for
from engipay.api.parsers import WriteThrottle
from engipay.api.validation import ErrorSerializer, validated

from .alert_serializers import PriceAlertCreateInput, PriceAlertOutput, PriceAlertPageOutput, PriceAlertRearmInput

TAGS = ["notifications"]


class PriceAlertWriteThrottle(WriteThrottle):
    """Creating, re-arming and deleting alerts, per user; reads are not counted."""

    scope = "price_alert_write"
    default_rate = "30/min"

    def get_rate(self) -> str:
        # THROTTLE_PRICE_ALERT_WRITE in settings wins when it is configured there.
        return self.THROTTLE_RATES.get(self.scope, self.default_rate)


THROTTLES = [UserRateThrottle, PriceAlertWriteThrottle]

ARMED = {
    "id": "3f2b8c1e-7a4d-4e0b-9c59-1d2e3f4a5b6c",
    "symbol": "ETH",
    "direction": "above",
    "price": "2500.00",
    "status": "armed",
    "armed_at": "2026-11-27T10:30:00Z",
    "triggered_at": None,
    "triggered_price": None,
    "current_price": {
        "price": "2431.17",
        "observed_at": "2026-11-27T10:29:48Z",
        "source": "chainlink:mainnet",
        "stale": False,
    },
    "note": "Take profit",
    "created_at": "2026-11-27T10:30:00Z",
}
TRIGGERED = {
    **ARMED,
    "status": "triggered",
    "triggered_at": "2026-11-27T12:01:02Z",
    "triggered_price": {"price": "2502.41", "observed_at": "2026-11-27T12:00:59Z", "source": "chainlink:mainnet"},
    "current_price": {"price": "2510.00", "observed_at": "2026-11-27T12:05:59Z", "source": "coingecko", "stale": False},
}


def _error(name: str, status: int, code: str, message: str, details: dict | None = None) -> OpenApiExample:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return OpenApiExample(name, value=body, response_only=True, status_codes=[str(status)])


CREATE_EXAMPLES = [
    OpenApiExample(
        "ETH at or above 2500 USD",
        value={"symbol": "ETH", "direction": "above", "price": "2500.00", "note": "Take profit"},
        request_only=True,
    ),
    OpenApiExample("Armed", value=ARMED, response_only=True, status_codes=["201"]),
    _error(
        "A float price",
        400,
        "invalid_input",
        'price: Send the price as a decimal string, e.g. "2500.00", not a float.',
        {"price": ['Send the price as a decimal string, e.g. "2500.00", not a float.']},
    ),
    _error(
        "No stored price yet",
        400,
        "no_price_yet",
        "There is no stored price for STRK yet, so an alert on it cannot be evaluated.",
        {"symbol": "STRK"},
    ),
    _error(
        "Too many armed alerts",
        409,
        "too_many_alerts",
        "At most 50 armed price alerts; delete one or wait for one to trigger.",
        {"max_armed": 50, "armed": 50},
    ),
]
LIST_EXAMPLE = OpenApiExample(
    "My alerts",
    value={"alerts": [TRIGGERED, ARMED], "total_count": 2, "limit": 20, "offset": 0, "has_more": False},
    response_only=True,
)
ALERT_DESCRIPTION = (
    "Armed alerts are checked against every price stored after `armed_at` (each ingestion and the price webhook). "
    "The first one on the far side of the threshold (`above`: price >= threshold, `below`: price <= threshold) "
    "triggers the alert: exactly one `price_alert` notification (websocket and `GET /api/notifications`), and the "
    "alert stays quiet until re-armed. An alert created on the far side already triggers with the next price. "
    "Prices are decimal strings; `current_price` is the latest stored price (null when there is none)."
)


class PriceAlertListCreateView(APIView):
    throttle_classes = THROTTLES
    paginator_class = paginator_for("alerts")

    @extend_schema(
        tags=TAGS,
        operation_id="price_alerts_list",
        summary="My price alerts",
        description="Newest first. " + ALERT_DESCRIPTION,
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=PriceAlert.Status.values),
            OpenApiParameter("symbol", OpenApiTypes.STR, description="Only this asset (case-insensitive)"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 100, default 20"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="0 or more, default 0"),
        ],
        request=None,
        responses={200: PriceAlertPageOutput, 400: ErrorSerializer, 401: ErrorSerializer},
        examples=[LIST_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        qs = alerts.price_alert_list_for_user(user=request.user, filters=request.query_params)
        paginator = self.paginator_class()
        page = alerts.price_alerts_with_current_price(paginator.paginate_queryset(qs, request, view=self))
        return paginator.get_paginated_response(PriceAlertOutput(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="price_alerts_create",
        summary="Create a price alert",
        description=ALERT_DESCRIPTION
        + f" The asset must be active and have a stored price; at most {alerts.MAX_ARMED_ALERTS} armed alerts per "
        "user (409 `too_many_alerts`).",
        request=PriceAlertCreateInput,
        responses={
            201: PriceAlertOutput,
            400: ErrorSerializer,
            401: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
        examples=CREATE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        data = validated(PriceAlertCreateInput, request.data)
        alert = alerts.price_alert_create(user=request.user, **data)
        (alert,) = alerts.price_alerts_with_current_price([alert])
        return Response(PriceAlertOutput(alert).data, status=201)


class PriceAlertDetailView(APIView):
    throttle_classes = THROTTLES

    @extend_schema(
        tags=TAGS,
        operation_id="price_alerts_retrieve",
        summary="One of my price alerts",
        description="Another user's alert is a 404.",
        request=None,
        responses={200: PriceAlertOutput, 401: ErrorSerializer, 404: ErrorSerializer},
        examples=[OpenApiExample("Triggered", value=TRIGGERED, response_only=True)],
    )
    def get(self, request: Request, alert_id: UUID) -> Response:
        alert = alerts.price_alert_get_for_user(user=request.user, alert_id=alert_id)
        (alert,) = alerts.price_alerts_with_current_price([alert])
        return Response(PriceAlertOutput(alert).data)

    @extend_schema(
        tags=TAGS,
        operation_id="price_alerts_destroy",
        summary="Delete a price alert",
        description="Armed or triggered; its notifications stay. Another user's alert is a 404.",
        request=None,
        responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer, 429: ErrorSerializer},
    )
    def delete(self, request: Request, alert_id: UUID) -> Response:
        alert = alerts.price_alert_get_for_user(user=request.user, alert_id=alert_id)
        alerts.price_alert_delete(alert=alert)
        return Response(status=204)


class PriceAlertRearmView(APIView):
    throttle_classes = THROTTLES

    @extend_schema(
        tags=TAGS,
        operation_id="price_alerts_rearm",
        summary="Re-arm a triggered price alert",
        description=(
            "Status back to `armed`, `armed_at` now (only prices observed from now on count), optionally with a new "
            "`price` and/or `direction`. An alert that is armed already is a 409 `already_armed`; re-arming counts "
            f"towards the {alerts.MAX_ARMED_ALERTS} armed alerts."
        ),
        request=PriceAlertRearmInput,
        responses={
            200: PriceAlertOutput,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
        examples=[
            OpenApiExample("A higher threshold", value={"price": "2600.00"}, request_only=True),
            OpenApiExample(
                "Armed again", value={**ARMED, "price": "2600.00"}, response_only=True, status_codes=["200"]
            ),
            _error("Armed already", 409, "already_armed", "This alert is armed already.", {"status": "armed"}),
        ],
    )
    def post(self, request: Request, alert_id: UUID) -> Response:
        alert = alerts.price_alert_get_for_user(user=request.user, alert_id=alert_id)
        data = validated(PriceAlertRearmInput, request.data)
        alert = alerts.price_alert_rearm(alert=alert, **data)
        (alert,) = alerts.price_alerts_with_current_price([alert])
        return Response(PriceAlertOutput(alert).data)
