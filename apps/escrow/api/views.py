"""Escrow endpoints (API guide sections 4 and 10): create, read, list, transitions, submit."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.escrow import selectors
from apps.escrow.models import EscrowAction
from apps.escrow.services import escrows
from engipay.api.pagination import paginator_for
from engipay.api.parsers import WriteThrottle
from engipay.api.validation import ErrorSerializer, validated

from .serializers import (
    CreateInput,
    CreateOutput,
    EscrowOutput,
    ListQuery,
    SubmitInput,
    SubmitOutput,
    TransitionOutput,
    WithdrawInput,
)

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    503: ErrorSerializer,
}
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ESCROW_ID = "8b0f1c2e-5a51-4d7e-9a3e-2f0c6b1d9e44"
CREATE_EXAMPLE = OpenApiExample(
    "Lock 0.5 ETH for 24 hours",
    value={
        "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "asset": "ETH",
        "amount": "0.5",
        "memo": "Invoice payment",
        "expires_in_hours": 24,
        "require_confirmation": True,
    },
    request_only=True,
)
CREATE_BY_TOKEN = OpenApiExample(
    "Lock 250 USDC (section 10 shape)",
    value={
        "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "token_address": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        "amount": "250",
        "memo": "Invoice payment for services",
        "expires_in_hours": 168,
        "require_confirmation": True,
        "dispute_resolver": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    },
    request_only=True,
)
TX = {
    "type": "0x2",
    "chainId": "0x7a69",
    "from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "nonce": "0x4",
    "to": CONTRACT,
    "value": "0x6f05b59d3b20000",
    "data": "0x3c1b7c6c…",
    "gas": "0x2a3c0",
    "maxFeePerGas": "0x77359401",
    "maxPriorityFeePerGas": "0x1",
}
GAS = {
    "gas_limit": "172992",
    "gas_price": "1.000000001",
    "total_fee": "0.000144160000144160",
    "max_fee": "0.000346160000173000",
    "fee_asset": "ETH",
    "max_fee_per_gas": "2.000000001",
    "max_priority_fee_per_gas": "0.000000001",
    "source": "estimated",
}
HASHES = dict.fromkeys(
    ("creation", "acceptance", "release", "refund", "rejection", "cancellation", "dispute", "resolution", "expiry")
)
CREATE_RESPONSE = OpenApiExample(
    "Prepared: sign, then submit",
    value={
        "escrow_id": ESCROW_ID,
        "contract_address": CONTRACT,
        "transaction_hash": None,
        "payment_link": f"https://api.engipay.com/pay/escrow/{ESCROW_ID}",
        "expires_at": "2026-11-28T10:30:00Z",
        "status": "awaiting_signature",
        "gas_estimate": GAS,
        "transactions": [{"step": "create", "transaction": TX}],
        "transaction": TX,
        "sender": TX["from"],
        "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "token_address": "0x0",
        "asset": "ETH",
        "amount": "0.5",
        "memo": "Invoice payment",
        "network": "local",
        "transaction_hashes": HASHES,
    },
    response_only=True,
    status_codes=["201"],
)
DETAIL_RESPONSE = OpenApiExample(
    "Accepted",
    value={
        "escrow_id": ESCROW_ID,
        "sender": TX["from"],
        "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "token_address": "0x0",
        "amount": "0.5",
        "memo": "Invoice payment for services",
        "status": "accepted",
        "created_at": "2026-11-27T10:30:00Z",
        "expires_at": "2026-11-28T10:30:00Z",
        "contract_address": CONTRACT,
        "transaction_hashes": {
            **HASHES,
            "creation": "0x9a3f8c1e5b2d4a7f6e0c1b2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60",
            "acceptance": "0x1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a",
            "release": "0x1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a",
        },
        "asset": "ETH",
        "network": "local",
        "on_chain_state": "accepted",
        "settled": True,
        "paid_to_recipient": "0.5",
        "refunded_to_sender": None,
        "pending_action": None,
    },
    response_only=True,
    status_codes=["200"],
)
CONFLICT = OpenApiExample(
    "Another transition is open",
    value={
        "error": {
            "code": "transition_in_progress",
            "message": "A cancel of this escrow is already submitted; wait for it to settle.",
            "details": {"action": "cancel", "status": "submitted"},
        }
    },
    response_only=True,
    status_codes=["409"],
)
STATE_NOTE = (
    " The escrow's status never changes through this call: it follows the contract's events as the indexer reads "
    "them from the chain."
)


class EscrowThrottle(WriteThrottle):
    scope = "escrow_write"


class EscrowCreateView(APIView):
    throttle_classes = [EscrowThrottle]

    @extend_schema(
        tags=["escrow"],
        summary="Prepare an escrow: the row (awaiting_signature) and the sender's unsigned transaction(s)",
        description="ETH: one createEth transaction with the amount as value. ERC-20: approve (only when the "
        "allowance is short) then createToken; both come with consecutive nonces and are submitted together. The "
        "recipient is screened (403 `sanctioned_address`) and the amount must fit your KYC limits (403 "
        "`kyc_limit_exceeded`)." + STATE_NOTE,
        request=CreateInput,
        responses={201: CreateOutput, **ERRORS},
        examples=[CREATE_EXAMPLE, CREATE_BY_TOKEN, CREATE_RESPONSE],
    )
    def post(self, request: Request) -> Response:
        data = validated(CreateInput, request.data)
        prepared = escrows.escrow_create(user=request.user, **data)
        return Response(_create_body(prepared, request.user), status=201)


def _steps(action: EscrowAction) -> dict[str, Any]:
    return {"transactions": action.transactions, "transaction": action.transactions[-1]["transaction"]}


def _create_body(prepared: escrows.Prepared, user: Any) -> dict[str, Any]:
    """CreateOutput: the escrow as GET shows it, plus what to sign (nothing is signed yet)."""
    return {
        **EscrowOutput(prepared.escrow, context={"user": user}).data,
        "transaction_hash": None,
        "gas_estimate": prepared.gas_estimate,
        **_steps(prepared.action),
    }


class EscrowListView(APIView):
    pagination_class = paginator_for("escrows")
    results_key = "escrows"

    @extend_schema(
        tags=["escrow"],
        summary="My escrows, as sender or recipient (newest first)",
        parameters=[ListQuery, OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses={200: EscrowOutput(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = validated(ListQuery, request.query_params)
        rows = selectors.escrow_list_for_user(user=request.user, **query)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(EscrowOutput(page, many=True, context={"user": request.user}).data)


class EscrowDetailView(APIView):
    @extend_schema(
        tags=["escrow"],
        summary="One escrow (the sender's or the recipient's; anyone else gets 404)",
        responses={200: EscrowOutput, **ERRORS},
        examples=[DETAIL_RESPONSE],
    )
    def get(self, request: Request, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        return Response(EscrowOutput(escrow, context={"user": request.user}).data)


def _transition_body(prepared: escrows.Prepared) -> dict[str, Any]:
    action = prepared.action
    body = {
        "escrow_id": prepared.escrow.id,
        "action": action.kind,
        "status": "awaiting_signature",
        "signer": action.signer_address,
        "contract_address": prepared.escrow.deployment.address,
        "gas_estimate": prepared.gas_estimate,
        "prepared_until": action.prepared_until,
        **_steps(action),
    }
    return TransitionOutput(body).data


def _transition_view(kind: str, summary: str, who: str) -> type[APIView]:
    class TransitionView(APIView):
        throttle_classes = [EscrowThrottle]

        @extend_schema(
            tags=["escrow"],
            summary=summary,
            description=f"{who} The contract's state is read from the chain first: 409 `invalid_state` / "
            "`escrow_expired` when the contract would refuse, 409 `transition_in_progress` while another "
            "transition of the escrow is prepared or submitted (the same request again returns the same prepared "
            "call). Sign `transaction` and POST it to /api/payments/escrow/{id}/submit." + STATE_NOTE,
            request=None,
            responses={200: TransitionOutput, **ERRORS},
            examples=[CONFLICT],
            operation_id=f"escrow_{kind}",
        )
        def post(self, request: Request, escrow_id: str) -> Response:
            escrow = selectors.escrow_get_for_user(user=request.user, escrow_id=escrow_id)
            prepared = escrows.escrow_transition_prepare(escrow=escrow, user=request.user, kind=kind)
            return Response(_transition_body(prepared))

    TransitionView.__name__ = f"Escrow{kind.title()}View"
    TransitionView.__qualname__ = TransitionView.__name__
    return TransitionView


EscrowAcceptView = _transition_view(
    "accept", "Prepare the recipient's accept (funds released to the recipient)", "Only the recipient (403)."
)
EscrowRejectView = _transition_view(
    "reject", "Prepare the recipient's reject (funds refunded to the sender)", "Only the recipient (403)."
)
EscrowCancelView = _transition_view(
    "cancel", "Prepare the sender's cancel, before acceptance and expiry (refund)", "Only the sender (403)."
)
EscrowDisputeView = _transition_view(
    "dispute",
    "Prepare a dispute (freezes the escrow for its resolver)",
    "Either party, before expiry, when the escrow names a resolver (409 `no_resolver`). Add your statement and "
    "evidence with POST /api/payments/escrow/{id}/dispute/statements.",
)
EscrowRefundView = _transition_view(
    "refund",
    "Prepare the settlement of an expired escrow (refund; or release when no confirmation was required)",
    "Either party, once the escrow's expiry has passed in chain time (409 `invalid_state` before).",
)


class EscrowWithdrawView(APIView):
    throttle_classes = [EscrowThrottle]

    @extend_schema(
        tags=["escrow"],
        summary="Prepare the withdrawal of a payout the contract kept for you (see deferred_payouts)",
        description="When a payout could not be pushed to its receiver (a contract refusing ETH, a token blocking "
        "the address), the contract keeps it for that address; `withdraw(token, to)` sends it where the receiver "
        "chooses. 409 `nothing_owed` when nothing (more) is kept for your wallet.",
        request=WithdrawInput,
        responses={200: TransitionOutput, **ERRORS},
    )
    def post(self, request: Request, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        data = validated(WithdrawInput, request.data)
        return Response(_transition_body(escrows.escrow_withdraw_prepare(escrow=escrow, user=request.user, **data)))


class EscrowSubmitView(APIView):
    throttle_classes = [EscrowThrottle]

    @extend_schema(
        tags=["escrow"],
        summary="Send the signed transaction(s) of the escrow's prepared transition (or record hashes)",
        description="Each signed transaction must be exactly one prepared for you (target, data, value; 400 "
        "`transaction_mismatch`), signed by the wallet named `signer`, for this chain. Idempotent. The escrow's "
        "status follows once the chain has the transaction and the indexer read its event." + STATE_NOTE,
        request=SubmitInput,
        responses={202: SubmitOutput, **ERRORS},
    )
    def post(self, request: Request, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        data = validated(SubmitInput, request.data)
        action = escrows.escrow_action_submit(escrow=escrow, user=request.user, **data)
        escrow.refresh_from_db()
        body = {
            "escrow_id": escrow.id,
            "action": action.kind,
            "status": action.status,
            "transaction_hashes": action.tx_hashes,
            "escrow_status": selectors.escrow_effective_status(escrow=escrow),
        }
        return Response(SubmitOutput(body).data, status=202)
