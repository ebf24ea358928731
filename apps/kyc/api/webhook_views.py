"""Inbound webhooks of verification providers: signed by the vendor, no user authentication, no CSRF."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.kyc.models import KycSubmission
from apps.kyc.services.providers import kyc_provider_webhook_handle
from engipay.api.validation import ErrorSerializer

# Sumsub's applicantReviewed is well under 4 KB; anything near this is not a webhook.
WEBHOOK_MAX_BYTES = 64 * 1024


class WebhookAckOutput(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="Delivered before (same applicantId, type and createdAtMs).")
    verdict = serializers.CharField(
        help_text="applied, ignored, out_of_order (older than the last applied event), conflict (the submission's "
        "state does not allow it; kept for reviewers), unknown_applicant."
    )


def _raw_body(request: Request) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > WEBHOOK_MAX_BYTES:
        raise RequestDataTooBig("Webhook body too large.")
    body = request.body
    if len(body) > WEBHOOK_MAX_BYTES:
        raise RequestDataTooBig("Webhook body too large.")
    return body


class SumsubWebhookView(APIView):
    authentication_classes: list = []  # the vendor signs the body; no session, so no CSRF either
    permission_classes = [AllowAny]
    throttle_classes: list = []  # deliveries come in bursts from the vendor's few addresses; a 429 delays verdicts

    @extend_schema(
        tags=["kyc"],
        operation_id="kyc_webhook_sumsub",
        summary="Sumsub webhook (vendor to EngiPay)",
        description="Called by Sumsub, not by apps. `X-Payload-Digest` is the lowercase hex HMAC of the raw body "
        "with the webhook secret (`SUMSUB_WEBHOOK_SECRET`), `X-Payload-Digest-Alg` one of `HMAC_SHA1_HEX`, "
        "`HMAC_SHA256_HEX`, `HMAC_SHA512_HEX`; a missing or wrong digest is 401 `invalid_signature`, an unset "
        "secret 503 `provider_not_configured`, a body over 64 KB 413. Every accepted delivery is stored once per "
        "(applicantId, type, createdAtMs); a repeat answers `duplicate: true` and changes nothing. "
        "`applicantPending` starts the review; `applicantReviewed` decides it: GREEN verifies, RED with "
        "`reviewRejectType` RETRY asks for a resubmission, other RED rejects, with the vendor's labels mapped to "
        "our reasons. `moderationComment` is shown to the user, `clientComment` only to reviewers. A review older "
        "than the last one applied is stored, not applied.",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("X-Payload-Digest", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "X-Payload-Digest-Alg",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                enum=["HMAC_SHA1_HEX", "HMAC_SHA256_HEX", "HMAC_SHA512_HEX"],
            ),
        ],
        responses={
            200: WebhookAckOutput,
            400: ErrorSerializer,
            401: ErrorSerializer,
            413: ErrorSerializer,
            503: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "applicantReviewed (RED, RETRY)",
                value={
                    "applicantId": "5cb56e8e0a975a35f333cb83",
                    "inspectionId": "5cb56e8e0a975a35f333cb84",
                    "correlationId": "req-a260b669-4f14-4bb5-a4c5-ac0218acb9a4",
                    "externalUserId": "42",
                    "levelName": "basic-kyc-level",
                    "type": "applicantReviewed",
                    "sandboxMode": True,
                    "reviewStatus": "completed",
                    "createdAtMs": "2024-01-25 10:30:00.123",
                    "applicantType": "individual",
                    "reviewResult": {
                        "reviewAnswer": "RED",
                        "rejectLabels": ["UNSATISFACTORY_PHOTOS"],
                        "reviewRejectType": "RETRY",
                        "moderationComment": "The photo of your passport is blurred.",
                        "clientComment": "Glare over the MRZ.",
                    },
                },
                request_only=True,
            ),
            OpenApiExample(
                "Applied",
                value={"received": True, "duplicate": False, "verdict": "applied"},
                response_only=True,
                status_codes=["200"],
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        outcome = kyc_provider_webhook_handle(
            provider=KycSubmission.Provider.SUMSUB, raw_body=_raw_body(request), headers=request.headers
        )
        body = {"received": True, "duplicate": outcome.duplicate, "verdict": outcome.verdict}
        return Response(WebhookAckOutput(body).data)
