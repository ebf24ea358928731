from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.onboarding import selectors, services
from engipay.api.validation import ErrorSerializer, validated

from .serializers import (
    ALLOWED,
    OnboardingCompleteInput,
    OnboardingCompleteOutput,
    OnboardingProgressInput,
    OnboardingStatusOutput,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer}
RULES = (
    "`next_recommended_action` follows the user's real state, first match wins: no wallet linked → "
    "`connect_wallet`; the `security` step not completed → `secure_account`; no transaction pending, confirmed "
    "or finalized → `make_first_payment`; else `explore_defi`."
)
STATUS_EXAMPLE = OpenApiExample(
    "Three steps done",
    value={
        "is_completed": False,
        "steps_completed": ["welcome", "connect-wallet", "security"],
        "current_step": "features",
        "completion_percentage": 60,
        "started_at": "2024-01-24T10:00:00Z",
        "skipped_steps": [],
        "next_recommended_action": "make_first_payment",
    },
    response_only=True,
)
UNKNOWN_STEP_EXAMPLE = OpenApiExample(
    "Unknown step",
    value={
        "error": {
            "code": "invalid_input",
            "message": f"steps_completed: Unknown step 'foo'. Allowed: {ALLOWED}.",
            "details": {"steps_completed": [f"Unknown step 'foo'. Allowed: {ALLOWED}."]},
        }
    },
    response_only=True,
    status_codes=["400"],
)


class OnboardingCompleteView(APIView):
    @extend_schema(
        tags=["onboarding"],
        summary="Complete the onboarding flow",
        description=(
            "Idempotent: completing again updates the same record (same `onboarding_id`, first `completed_at` "
            "kept). Steps merge with those saved through /progress; a completed step stays completed. A step may "
            "not be both in `steps_completed` and `skipped_steps`. " + RULES
        ),
        request=OnboardingCompleteInput,
        responses={200: OnboardingCompleteOutput, **ERRORS},
        examples=[
            OpenApiExample(
                "Every step",
                value={
                    "steps_completed": ["welcome", "connect-wallet", "security", "features", "defi"],
                    "completion_time": 300,
                    "skipped_steps": [],
                    "user_feedback": "helpful",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Completed",
                value={
                    "onboarding_id": "onb_5f1c2b7a9e0d4c3b8a6f1e2d",
                    "completed_at": "2024-01-24T10:30:00Z",
                    "completion_rate": 100,
                    "next_recommended_action": "make_first_payment",
                },
                response_only=True,
            ),
            UNKNOWN_STEP_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(OnboardingCompleteInput, request.data)
        progress = services.onboarding_complete(user=request.user, **data)
        body = {
            "onboarding_id": progress.onboarding_id,
            "completed_at": progress.completed_at,
            "completion_rate": progress.completion_rate,
            "next_recommended_action": selectors.onboarding_next_action_for_user(
                user=request.user, steps_completed=progress.steps_completed
            ),
        }
        return Response(OnboardingCompleteOutput(body).data)


class OnboardingStatusView(APIView):
    @extend_schema(
        tags=["onboarding"],
        summary="Where the user is in the onboarding flow",
        description=(
            "A user who never started is at `welcome` with `started_at` null. Beyond the guide: `skipped_steps` "
            "and `next_recommended_action`. " + RULES
        ),
        responses={200: OnboardingStatusOutput, 401: ErrorSerializer, 429: ErrorSerializer},
        examples=[STATUS_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        return Response(OnboardingStatusOutput(selectors.onboarding_status_for_user(user=request.user)).data)


class OnboardingProgressView(APIView):
    @extend_schema(
        tags=["onboarding"],
        summary="Save one onboarding step",
        description=(
            "Beyond the guide. Marks one step `completed` (default) or `skipped` and answers with the status. "
            "Idempotent; completing a skipped step moves it to the completed ones, skipping a completed step "
            "changes nothing. The flow counts as completed once every step is completed or skipped."
        ),
        request=OnboardingProgressInput,
        responses={200: OnboardingStatusOutput, **ERRORS},
        examples=[
            OpenApiExample("Security done", value={"step": "security", "action": "completed"}, request_only=True),
            STATUS_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(OnboardingProgressInput, request.data)
        progress = services.onboarding_step_record(user=request.user, **data)
        return Response(
            OnboardingStatusOutput(selectors.onboarding_status_for_user(user=request.user, progress=progress)).data
        )
