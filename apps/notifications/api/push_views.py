"""The VAPID public key browsers subscribe with (``pushManager.subscribe({applicationServerKey})``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.notifications import vapid
from engipay.api.errors import ApplicationError
from engipay.api.validation import ErrorSerializer


class WebPushUnavailable(ApplicationError):
    status_code = 503
    default_code = "web_push_unavailable"


class WebPushKeyOutput(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID public key: base64url (no padding) of the uncompressed P-256 point, 87 characters. "
        "Pass it as applicationServerKey to pushManager.subscribe()."
    )


class WebPushKeyView(APIView):
    # Public: the frontend needs it before (and without) a session; a stale token must not make it a 401.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["notifications"],
        summary="VAPID public key for web push subscriptions",
        description="No authentication. The browser subscribes with it: "
        "`pushManager.subscribe({userVisibleOnly: true, applicationServerKey: public_key})`, then sends the "
        "subscription's JSON to `POST /api/notifications/subscribe` as `push_subscription`. Every push is signed "
        "with the matching private key; if the operator rotates it, browsers must subscribe again. "
        "503 `web_push_unavailable` when the server's key is misconfigured.",
        auth=[],
        responses={200: WebPushKeyOutput, 503: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Key",
                value={
                    "public_key": "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp"
                    "5Nksh8U"
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        try:
            key = vapid.public_key()
        except vapid.VapidKeyError as exc:
            raise WebPushUnavailable(message="Web push is not available: its key is misconfigured.") from exc
        response = Response(WebPushKeyOutput({"public_key": key}).data)
        # Changes only when the operator rotates the key (every browser then subscribes again).
        response["Cache-Control"] = "public, max-age=3600"
        return response
