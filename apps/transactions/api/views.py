from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.transactions import selectors, services
from engipay.api.pagination import paginator_for
from engipay.api.validation import ErrorSerializer, validated

from .serializers import (
    BroadcastInput,
    BroadcastOutput,
    PrepareInput,
    PrepareOutput,
    StatusOutput,
    TransactionListItemOutput,
    TransactionPageOutput,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 503: ErrorSerializer}
LIMIT_EXCEEDED = OpenApiExample(
    "Over the KYC limit",
    value={
        "error": {
            "code": "kyc_limit_exceeded",
            "message": "This would pass your daily limit of 1000 USD; 200.00 USD remains. Verify your identity to "
            "raise your limits.",
            "details": {
                "verification_level": "tier_0",
                "daily_limit": 1000,
                "monthly_limit": 5000,
                "daily_remaining": 200.00,
                "monthly_remaining": 4200.00,
                "requested_usd": 640.50,
            },
        }
    },
    response_only=True,
    status_codes=["403"],
)
SANCTIONED = OpenApiExample(
    "Sanctioned recipient",
    value={
        "error": {"code": "sanctioned_address", "message": "This address cannot be used with EngiPay.", "details": {}}
    },
    response_only=True,
    status_codes=["403"],
)
LIMITS_NOTE = (
    " The recipient is screened against sanctions lists (403 `sanctioned_address`) and the amount's USD value must "
    "fit your KYC tier's limits (403 `kyc_limit_exceeded`; 503 `price_unavailable` when the asset has no recent "
    "price to value it)."
)
HASH = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"

PREPARE_EXAMPLE = OpenApiExample(
    "Send 0.1 ETH",
    value={
        "network": "ethereum",
        "asset": "ETH",
        "to_address": "0x000000000000000000000000000000000000dEaD",
        "amount": "0.1",
    },
    request_only=True,
)
BROADCAST_EXAMPLE = OpenApiExample(
    "A signed transfer",
    value={
        "to_address": "0x000000000000000000000000000000000000dEaD",
        "asset": "ETH",
        "amount": "0.1",
        "network": "ethereum",
        "signed_transaction": "0x02f8…",
    },
    request_only=True,
)
BROADCAST_RESPONSE = OpenApiExample(
    "Sent",
    value={
        "transaction_id": "0b6c7c8e-2f7c-4a4e-8a53-0f4b9f0f3e21",
        "tx_hash": HASH,
        "status": "pending",
        "network": "ethereum",
        "estimated_confirmation": "2026-01-24T10:32:00Z",
        "gas_used": "21000",
        "gas_price": "20",
        "gas_limit": "21000",
        "nonce": 7,
        "from_address": "0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
    },
    response_only=True,
)
STATUS_EXAMPLE = OpenApiExample(
    "Confirmed",
    value={
        "transaction_id": "0b6c7c8e-2f7c-4a4e-8a53-0f4b9f0f3e21",
        "tx_hash": HASH,
        "network": "ethereum",
        "status": "confirmed",
        "finalized": False,
        "confirmations": 12,
        "block_number": "18500000",
        "block_hash": "0x8f1a…",
        "gas_used": "21000",
        "gas_price": "20",
        "total_fee": "0.00042",
        "timestamp": "2026-01-24T10:30:00Z",
        "revert_reason": None,
    },
    response_only=True,
)


class TransactionPrepareView(APIView):
    @extend_schema(
        tags=["transactions"],
        summary="Build an unsigned EIP-1559 transaction and its fee estimate (nothing is stored)",
        description="Nothing is stored." + LIMITS_NOTE,
        request=PrepareInput,
        responses={200: PrepareOutput, **ERRORS},
        examples=[PREPARE_EXAMPLE, LIMIT_EXCEEDED, SANCTIONED],
    )
    def post(self, request: Request) -> Response:
        data = validated(PrepareInput, request.data)
        prepared = services.transaction_prepare(user=request.user, **data)
        return Response(PrepareOutput(prepared).data)


class TransactionBroadcastView(APIView):
    @extend_schema(
        tags=["transactions"],
        summary="Send a signed transaction (or record one the wallet sent); idempotent on the hash",
        description="201 when recorded now, 200 when this transaction was already recorded. A signed transaction "
        "counts against your KYC limits when it is sent (a failed or dropped one stops counting)." + LIMITS_NOTE,
        request=BroadcastInput,
        responses={200: BroadcastOutput, 201: BroadcastOutput, **ERRORS},
        examples=[BROADCAST_EXAMPLE, BROADCAST_RESPONSE, LIMIT_EXCEEDED, SANCTIONED],
    )
    def post(self, request: Request) -> Response:
        data = validated(BroadcastInput, request.data)
        data.pop("gas_price", None), data.pop("gas_limit", None)
        if data.get("tx_hash"):
            data.pop("signed_transaction", None)
            record, created = services.transaction_track_hash(user=request.user, **data)
        else:
            data.pop("tx_hash", None)
            record, created = services.transaction_broadcast(user=request.user, **data)
        return Response(BroadcastOutput(record).data, status=201 if created else 200)


class TransactionStatusView(APIView):
    @extend_schema(
        tags=["transactions"],
        summary="Status of one of your transactions, as the tracker last read it from the chain",
        parameters=[OpenApiParameter("network", OpenApiTypes.STR, description="When one hash exists on several")],
        responses={200: StatusOutput, 401: ErrorSerializer, 404: ErrorSerializer},
        examples=[STATUS_EXAMPLE],
    )
    def get(self, request: Request, tx_hash: str) -> Response:
        record = selectors.transaction_get_for_user(
            user=request.user, tx_hash=tx_hash, network=request.query_params.get("network")
        )
        return Response(StatusOutput(record).data)


class TransactionListView(APIView):
    paginator_class = paginator_for("transactions")
    results_key = "transactions"

    @extend_schema(
        tags=["transactions"],
        summary="Your transactions, newest first",
        parameters=[
            OpenApiParameter("network", OpenApiTypes.STR),
            OpenApiParameter(
                "status", OpenApiTypes.STR, description="pending, confirmed, finalized, failed, dropped, completed"
            ),
            OpenApiParameter("asset", OpenApiTypes.STR, description="Symbol, e.g. ETH"),
            OpenApiParameter("type", OpenApiTypes.STR, description="send"),
            OpenApiParameter("start_date", OpenApiTypes.DATETIME),
            OpenApiParameter("end_date", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: TransactionPageOutput, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.transaction_list_for_user(user=request.user, filters=request.query_params)
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TransactionListItemOutput(page, many=True).data)
