"""Dispute statements and evidence for the escrow's parties, under ``/api/payments/escrow/<id>/dispute/``. An
escrow that is not the caller's is a 404, as are its statements and files."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from apps.escrow.selectors import escrow_effective_status, escrow_get_for_user
from apps.escrow.services import disputes as services
from engipay.api.parsers import WriteThrottle, bounded_parsers
from engipay.api.validation import ErrorSerializer, validated

from .dispute_serializers import StatementInput, StatementListOutput, StatementOutput


class EscrowWriteThrottle(WriteThrottle):
    """Escrow writes per user (statements carry uploads); reads are not counted."""

    scope = "escrow_write"


PARSERS = bounded_parsers("ESCROW_REQUEST_MAX_BYTES")
ESCROW_ID = "3f2c9a4e-8d1b-4c7a-9e2f-5b6d7c8e9f01"
EVIDENCE = {
    "id": 12,
    "filename": "delivery-photo.jpg",
    "content_type": "image/jpeg",
    "size": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "download_url": f"https://api.engipay.com/api/payments/escrow/{ESCROW_ID}/dispute/evidence/12",
    "created_at": "2024-01-24T11:02:00Z",
}
STATEMENT = {
    "id": 7,
    "role": "recipient",
    "mine": True,
    "text": "The goods were delivered on Jan 22; the courier's photo is attached.",
    "evidence": [EVIDENCE],
    "created_at": "2024-01-24T11:02:00Z",
}
POST_DESCRIPTION = (
    "Adds your account of the dispute (you must be the escrow's sender or recipient: otherwise 403 `not_party`). "
    "Taken while the escrow is pending (before a dispute is opened), disputed, or while a dispute transaction is "
    "on its way; otherwise 409 `invalid_state`. Evidence files are refused with `evidence_*` codes "
    "(`details.index` names the item) or `too_many_evidence_files`, and then nothing is stored. The other party "
    "is notified (`escrow_dispute_statement`). Accepts JSON (base64 files) or multipart/form-data; bodies over "
    "ESCROW_REQUEST_MAX_BYTES are refused with 413."
)


class DisputeStatementsView(APIView):
    parser_classes = PARSERS
    throttle_classes = [UserRateThrottle, EscrowWriteThrottle]

    @extend_schema(
        tags=["escrow"],
        operation_id="escrow_dispute_statements_list",
        summary="The dispute's statements",
        description="Both parties' statements on the escrow, oldest first, with their evidence files' metadata "
        "and download URLs. Another user's escrow is a 404.",
        request=None,
        responses={200: StatementListOutput, 401: ErrorSerializer, 404: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A disputed escrow",
                value={"escrow_id": ESCROW_ID, "status": "disputed", "statements": [STATEMENT]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, escrow_id: str) -> Response:
        escrow = escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        statements = services.dispute_statement_list(escrow=escrow)
        body = {"escrow_id": escrow.id, "status": escrow_effective_status(escrow=escrow), "statements": statements}
        return Response(StatementListOutput(body, context={"request": request}).data)

    @extend_schema(
        tags=["escrow"],
        operation_id="escrow_dispute_statements_create",
        summary="Add a statement to the dispute",
        description=POST_DESCRIPTION,
        request={"application/json": StatementInput, "multipart/form-data": StatementInput},
        responses={
            201: StatementOutput,
            **{status: ErrorSerializer for status in (400, 401, 403, 404, 409, 413, 429)},
        },
        examples=[
            OpenApiExample(
                "A statement with a photo",
                value={
                    "text": "The goods were delivered on Jan 22; the courier's photo is attached.",
                    "files": ["data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ..."],
                },
                request_only=True,
            ),
            OpenApiExample("Added", value=STATEMENT, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "A refused file",
                value={
                    "error": {
                        "code": "evidence_polyglot",
                        "message": "The evidence file also carries another format (zip), so it is not accepted.",
                        "details": {"index": 0, "field": "files[0]", "detected": "zip"},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request: Request, escrow_id: str) -> Response:
        escrow = escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        data = validated(StatementInput, request.data)
        statement = services.dispute_statement_add(escrow=escrow, user=request.user, **data)
        return Response(StatementOutput(statement, context={"request": request}).data, status=201)


class DisputeEvidenceDownloadView(APIView):
    @extend_schema(
        tags=["escrow"],
        operation_id="escrow_dispute_evidence_download",
        summary="Download an evidence file of the dispute",
        description="The file as a download (`Content-Disposition: attachment`, `X-Content-Type-Options: "
        "nosniff`, `Content-Security-Policy: sandbox`, `Cache-Control: private, no-store`), for the escrow's "
        "parties only: anyone else gets 404.",
        request=None,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file"),
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "Not yours",
                value={"error": {"code": "escrow_not_found", "message": "No such escrow.", "details": {}}},
                response_only=True,
                status_codes=["404"],
            )
        ],
    )
    def get(self, request: Request, escrow_id: str, evidence_id: int) -> FileResponse:
        escrow = escrow_get_for_user(user=request.user, escrow_id=escrow_id)
        evidence = services.dispute_evidence_get(escrow=escrow, evidence_id=evidence_id)
        return services.dispute_evidence_response(evidence=evidence)
