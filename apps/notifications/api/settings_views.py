"""Where and when notifications reach a user: subscribe, preferences, confirmation of targets, unsubscribe."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from apps.notifications import preferences
from apps.notifications.models import NotificationPreference, PushSubscription
from engipay.api.errors import ApplicationError, InvalidInput
from engipay.api.parsers import WriteThrottle
from engipay.api.renderers import ExactJSONRenderer
from engipay.api.validation import ErrorSerializer

from .serializers import (
    EmailConfirmOutput,
    PhoneVerifyInput,
    PreferencesInput,
    PreferencesOutput,
    SubscribeInput,
    UnsubscribeOutput,
)


class NotificationSettingsThrottle(WriteThrottle):
    scope = "notification_settings"


THROTTLES = [UserRateThrottle, NotificationSettingsThrottle]

PREFERENCES_EXAMPLE = OpenApiExample(
    "Preferences",
    value={
        "channels": ["in_app", "email", "web_push"],
        "types": {
            "transaction_confirmed": ["in_app", "email"],
            "transaction_failed": ["in_app", "email", "web_push"],
            "transaction_pending": ["in_app"],
            "escrow_*": ["in_app", "email", "web_push"],
            "kyc_*": ["in_app", "email"],
            "support_reply": ["in_app", "email"],
            "price_alert": ["in_app", "web_push"],
            "defi_*": ["in_app", "email"],
            "other": ["in_app"],
        },
        "email": "ada@example.com",
        "email_verified": True,
        "phone": None,
        "phone_verified": False,
        "push_subscriptions": [
            {
                "id": "0b0f8c1e-2f7a-4f1e-9d55-0a4b8e1c2d3f",
                "endpoint_host": "fcm.googleapis.com",
                "user_agent": "Mozilla/5.0 …",
                "created_at": "2026-11-27T08:00:00Z",
                "last_success_at": None,
            }
        ],
        "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
        "pending_verification": [],
        "updated_at": "2026-11-27T08:00:00Z",
    },
    response_only=True,
)


def preferences_payload(user, pending: preferences.Pending | None = None) -> dict[str, Any]:
    pref: NotificationPreference = preferences.preference_for(user)
    quiet = None
    if pref.quiet_hours_start is not None and pref.quiet_hours_end is not None:
        quiet = {
            "start": pref.quiet_hours_start.strftime("%H:%M"),
            "end": pref.quiet_hours_end.strftime("%H:%M"),
            "timezone": pref.timezone,
        }
    waiting = set(pending.as_list() if pending else [])
    if pref.email and not pref.email_verified_at:
        waiting.add("email")
    if pref.phone and not pref.phone_verified_at:
        waiting.add("phone")
    return {
        "channels": list(pref.channels),
        "types": preferences.effective_types(pref),
        "email": pref.email or None,
        "email_verified": bool(pref.email and pref.email_verified_at),
        "phone": pref.phone or None,
        "phone_verified": bool(pref.phone and pref.phone_verified_at),
        "push_subscriptions": [
            {
                "id": sub.id,
                "endpoint_host": urlsplit(sub.endpoint).hostname or "",
                "user_agent": sub.user_agent,
                "created_at": sub.created_at,
                "last_success_at": sub.last_success_at,
            }
            for sub in PushSubscription.objects.filter(user=user)
        ],
        "quiet_hours": quiet,
        "pending_verification": sorted(waiting),
        "updated_at": pref.updated_at if pref.pk and not pref._state.adding else None,
    }


def _object_body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("invalid_input", "The body is a JSON object.")
    return dict(request.data)


def _payload_out(user, pending=None) -> dict[str, Any]:
    return PreferencesOutput(preferences_payload(user, pending)).data


class SubscribeView(APIView):
    throttle_classes = THROTTLES

    @extend_schema(
        tags=["notifications"],
        summary="Switch notification channels on",
        description="Turns each of `channels` on for each of `types` (every type when omitted). `in_app` is the "
        "websocket `/ws/notifications/`; `email` goes to the account's verified email, or to `email` once the "
        "link mailed there is opened; `sms` to `phone` once the texted code is confirmed "
        "(`POST /api/notifications/phone/verify`); `web_push` to the browser subscription given (or already "
        "stored), sent with VAPID (`GET /api/notifications/web-push/key` gives the application server key). "
        "Push endpoints must be a known push service (403-free 400 `push_endpoint_not_allowed`). A channel "
        "without a target is 400 `channel_target_missing`.",
        request=SubscribeInput,
        responses={200: PreferencesOutput, 400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Email and web push for transactions and escrow",
                value={
                    "channels": ["email", "web_push"],
                    "types": ["transaction_confirmed", "transaction_failed", "escrow_*"],
                    "email": "ada@example.com",
                    "push_subscription": {
                        "endpoint": "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91bH…",
                        "expirationTime": None,
                        "keys": {
                            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1…",
                            "auth": "tBHItJI5svbpez7KI4CCXg",
                        },
                    },
                },
                request_only=True,
            ),
            PREFERENCES_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        data = _object_body(request)
        if "channels" not in data:
            raise InvalidInput("invalid_channels", "channels is required.", {"channels": ["Required."]})
        _pref, pending = preferences.notifications_subscribe(
            user=request.user,
            channels=data.get("channels"),
            types=data.get("types"),
            email=data.get("email"),
            phone=data.get("phone"),
            push_subscription=data.get("push_subscription"),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(_payload_out(request.user, pending))


class PreferencesView(APIView):
    throttle_classes = THROTTLES

    @extend_schema(
        tags=["notifications"],
        summary="Notification preferences",
        responses={200: PreferencesOutput, 401: ErrorSerializer},
        examples=[PREFERENCES_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        return Response(_payload_out(request.user))

    @extend_schema(
        tags=["notifications"],
        summary="Change notification preferences",
        description="Only the fields given change. `types` merges: each type named gets exactly the channels "
        "listed. `quiet_hours` (local time, may span midnight): email, web push and SMS wait until they end; "
        "the in-app list and websocket are not delayed. A new `email` or `phone` is used once confirmed.",
        request=PreferencesInput,
        responses={200: PreferencesOutput, 400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Quiet nights, no SMS for price alerts",
                value={
                    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
                    "types": {"price_alert": ["in_app", "web_push"]},
                },
                request_only=True,
            ),
            PREFERENCES_EXAMPLE,
        ],
    )
    def patch(self, request: Request) -> Response:
        data = _object_body(request)
        _pref, pending = preferences.preferences_update(user=request.user, data=data)
        return Response(_payload_out(request.user, pending))


class PushSubscriptionDeleteView(APIView):
    @extend_schema(
        tags=["notifications"],
        summary="Stop web push to one browser",
        request=None,
        responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def delete(self, request: Request, subscription_id: UUID) -> Response:
        preferences.push_subscription_delete(user=request.user, subscription_id=subscription_id)
        return Response(status=204)


class PhoneVerifyView(APIView):
    throttle_classes = THROTTLES

    @extend_schema(
        tags=["notifications"],
        summary="Confirm the SMS phone with the texted code",
        description="Wrong codes count; after PHONE_CODE_MAX_ATTEMPTS or PHONE_CODE_TTL_SECONDS the code is "
        "dead (409 `code_expired`): give the phone again to get a new one.",
        request=PhoneVerifyInput,
        responses={200: PreferencesOutput, 400: ErrorSerializer, 401: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = _object_body(request)
        preferences.phone_verify(user=request.user, code=data.get("code"))
        return Response(_payload_out(request.user))


TOKEN_PARAMETER = OpenApiParameter("token", OpenApiTypes.STR, required=True, description="From the email's link.")


class _SignedLinkView(APIView):
    """Opened from an email: no login (the signed token is the authority), JSON or an HTML page."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]
    renderer_classes = [ExactJSONRenderer, TemplateHTMLRenderer]
    template_name = "notifications/link_result.html"

    def _answer(self, request: Request, body: dict[str, Any], status: int = 200) -> Response:
        return Response(body, status=status, template_name=self.template_name)

    def _error(self, request: Request, exc: ApplicationError) -> Response:
        if isinstance(request.accepted_renderer, TemplateHTMLRenderer):
            return Response(
                {"error": {"code": exc.code, "message": exc.message}, "title": "This link does not work"},
                status=exc.status_code,
                template_name=self.template_name,
            )
        raise exc


class UnsubscribeView(_SignedLinkView):
    @extend_schema(
        tags=["notifications"],
        summary="Unsubscribe link (page)",
        description="The link in every notification email. GET only shows what the link does (mail scanners "
        "open links); the button on the page, or a mail client's RFC 8058 one-click POST, does it.",
        parameters=[TOKEN_PARAMETER],
        responses={200: UnsubscribeOutput, 400: ErrorSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        try:
            claim = preferences.unsubscribe_claim(request.query_params.get("token", ""))
        except ApplicationError as exc:
            return self._error(request, exc)
        body = {"unsubscribed": False, "scope": claim.topic or "all", "label": claim.label}
        return self._answer(request, {**body, "confirm": True, "token": request.query_params.get("token", "")})

    @extend_schema(
        tags=["notifications"],
        summary="Unsubscribe (one click)",
        description="Switches email off for the link's notification type (or all notification email). No login; "
        "idempotent. The token cannot be forged (signed with the server's secret) and only ever switches "
        "email off for the user it was made for.",
        parameters=[TOKEN_PARAMETER],
        request=None,
        responses={200: UnsubscribeOutput, 400: ErrorSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        try:
            claim = preferences.unsubscribe_apply(token=request.query_params.get("token", ""))
        except ApplicationError as exc:
            return self._error(request, exc)
        return self._answer(request, {"unsubscribed": True, "scope": claim.topic or "all", "label": claim.label})


class EmailConfirmView(_SignedLinkView):
    @extend_schema(
        tags=["notifications"],
        summary="Confirm the notification email (link)",
        description="Opened from the confirmation email (valid 3 days). GET shows a button; POST confirms.",
        parameters=[TOKEN_PARAMETER],
        responses={200: EmailConfirmOutput, 400: ErrorSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return self._answer(
            request, {"confirm": True, "email_confirm": True, "token": request.query_params.get("token", "")}
        )

    @extend_schema(
        tags=["notifications"],
        summary="Confirm the notification email",
        parameters=[TOKEN_PARAMETER],
        request=None,
        responses={200: EmailConfirmOutput, 400: ErrorSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        try:
            pref = preferences.email_confirm(token=request.query_params.get("token", ""))
        except ApplicationError as exc:
            return self._error(request, exc)
        return self._answer(request, {"email": pref.email, "email_verified": True})
