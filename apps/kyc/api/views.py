from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.kyc import selectors
from apps.kyc.models import KycSubmission, Level
from apps.kyc.services.limits import limits_for
from apps.kyc.services.submissions import (
    estimated_completion,
    kyc_submission_create,
    level_rank,
    reject_reason_messages,
    rejection_is_final,
    required_documents,
)
from engipay.api.errors import InvalidInput
from engipay.api.parsers import WriteThrottle, bounded_parsers
from engipay.api.validation import ErrorSerializer, validated

from .serializers import KycStatusOutput, KycSubmitInput, KycSubmitOutput

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 409: ErrorSerializer, 413: ErrorSerializer}


class KycSubmitThrottle(WriteThrottle):
    scope = "kyc_submit"


def _body(request: Request) -> Any:
    """JSON as sent; multipart flattened to the JSON shape (``personal_info`` as a JSON string, or its three
    fields as ``personal_info.full_name`` … or plain ``full_name`` …)."""
    data = request.data
    if not isinstance(data, QueryDict):
        return data
    body: dict[str, Any] = {key: data.get(key) for key in data}
    raw_info = body.pop("personal_info", None)
    if raw_info:
        try:
            body["personal_info"] = json.loads(raw_info)
        except (TypeError, ValueError, RecursionError):
            raise InvalidInput("invalid_personal_info", "personal_info must be a JSON object.") from None
    else:
        body["personal_info"] = {
            name: body.pop(f"personal_info.{name}", None) or body.pop(name, None)
            for name in ("full_name", "date_of_birth", "address")
        }
    return body


class KycSubmitView(APIView):
    parser_classes = bounded_parsers("KYC_REQUEST_MAX_BYTES")
    throttle_classes = [KycSubmitThrottle]

    @extend_schema(
        tags=["kyc"],
        operation_id="kyc_submit",
        summary="Submit identity documents",
        description="An identity document and a selfie (tier_1), plus a proof of address (tier_2), with your "
        "personal info; JSON with base64 images, or multipart/form-data with files. Documents are checked by their "
        "content (JPEG, PNG, WebP, PDF; a selfie is an image), stripped of metadata and encrypted before they are "
        "stored. One submission at a time (409 `submission_open`); after a rejection or a resubmission request you "
        "may submit again unless the rejection was final (409 `resubmission_not_allowed`).",
        request={"application/json": KycSubmitInput, "multipart/form-data": KycSubmitInput},
        responses={201: KycSubmitOutput, **ERRORS, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Passport",
                value={
                    "document_type": "passport",
                    "document_image": "base64_image_data",
                    "selfie_image": "base64_image_data",
                    "personal_info": {
                        "full_name": "John Doe",
                        "date_of_birth": "1990-01-01",
                        "address": "123 Main St, City, Country",
                    },
                },
                request_only=True,
            ),
            OpenApiExample(
                "Pending",
                value={
                    "kyc_id": "kyc_3f9c2a41d08e7b6c5a12",
                    "status": "pending",
                    "estimated_completion": "2024-01-25T10:30:00Z",
                    "required_documents": ["passport", "selfie"],
                    "requested_level": "tier_1",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(KycSubmitInput, _body(request))
        submission = kyc_submission_create(
            user=request.user,
            document_type=data["document_type"],
            personal_info=data["personal_info"],
            files={name: data.get(name) for name in ("document_image", "selfie_image", "proof_of_address")},
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        body = {
            "kyc_id": submission.pk,
            "status": submission.status,
            "estimated_completion": estimated_completion(submission=submission),
            "required_documents": required_documents(
                document_type=submission.document_type, level=submission.requested_level
            ),
            "requested_level": submission.requested_level,
        }
        return Response(KycSubmitOutput(body).data, status=201)


def kyc_status_body(user) -> dict[str, Any]:
    latest = selectors.kyc_submission_latest_for_user(user=user)
    verification = selectors.kyc_verification_for_user(user=user)
    level = verification.level if verification is not None else Level.TIER_0
    limits = limits_for(user, level=level)
    refused = latest is not None and latest.status in (
        KycSubmission.Status.REJECTED,
        KycSubmission.Status.RESUBMISSION_REQUIRED,
    )
    final = latest is not None and rejection_is_final(latest)
    return {
        "kyc_id": latest.pk if latest is not None else None,
        "status": latest.status if latest is not None else "not_started",
        "verification_level": level,
        "limits": {"daily_transaction": limits.daily, "monthly_transaction": limits.monthly},
        "remaining": {"daily_transaction": limits.daily_remaining, "monthly_transaction": limits.monthly_remaining},
        "verified_at": verification.verified_at if verification is not None else None,
        "submitted_at": latest.created_at if latest is not None else None,
        "reasons": reject_reason_messages(latest.reject_reasons) if refused else [],
        "reviewer_message": latest.reviewer_message if refused else "",
        "can_submit": not (latest is not None and latest.is_open) and not final and level_rank(level) < 2,
    }


class KycStatusView(APIView):
    @extend_schema(
        tags=["kyc"],
        operation_id="kyc_status",
        summary="My verification status and limits",
        description="`status` is that of your latest submission (`not_started` without one); "
        "`verification_level` and `limits` (USD, rolling 24 hours and 30 days) come from your verified level "
        "(tier_0 = wallet only). A rejection or resubmission request lists reasons you can act on.",
        request=None,
        responses={200: KycStatusOutput, 401: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Verified",
                value={
                    "kyc_id": "kyc_3f9c2a41d08e7b6c5a12",
                    "status": "verified",
                    "verification_level": "tier_2",
                    "limits": {"daily_transaction": 10000, "monthly_transaction": 100000},
                    "remaining": {"daily_transaction": 9750.5, "monthly_transaction": 99750.5},
                    "verified_at": "2024-01-24T10:30:00Z",
                    "submitted_at": "2024-01-23T09:00:00Z",
                    "reasons": [],
                    "reviewer_message": "",
                    "can_submit": False,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(KycStatusOutput(kyc_status_body(request.user)).data)
