"""Inbound webhooks: signed by the sender (no user authentication, no CSRF), throttled per client IP."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.webhooks import payloads, signing
from apps.webhooks.services import Inbound, webhook_delivery_receive
from engipay.api.validation import ErrorSerializer

from .serializers import WebhookReceiptOutput


class WebhookIPThrottle(SimpleRateThrottle):
    """Every webhook endpoint together, per client IP (THROTTLE_WEBHOOKS): throttled requests are not stored."""

    scope = "webhooks"

    def get_cache_key(self, request, view):  # type: ignore[override]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _inbound(request: Request, topic: str) -> Inbound:
    """The raw bytes, read only up to WEBHOOK_MAX_BYTES + 1 (a larger declared Content-Length: not read at all)."""
    limit = settings.WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body: bytes | None = None
    size = declared
    if declared <= limit:
        body = request._request.read(limit + 1)
        size = len(body)
        if size > limit:
            body = None
    remote_addr = WebhookIPThrottle().get_ident(request)
    return Inbound(topic=topic, body=body, size=size, headers=request.headers, remote_addr=remote_addr)


class _WebhookView(APIView):
    authentication_classes: list = []  # the sender signs the body; no session, so no CSRF either
    permission_classes = [AllowAny]
    throttle_classes = [WebhookIPThrottle]
    topic = ""

    def receive(self, request: Request) -> Response:
        receipt = webhook_delivery_receive(inbound=_inbound(request, self.topic))
        body = {"received": True, "duplicate": receipt.duplicate, "delivery_id": receipt.delivery_id}
        return Response(WebhookReceiptOutput({**body, "status": receipt.status}).data)


# --- OpenAPI -------------------------------------------------------------------------------------------------

_SIGNING = (
    "Called by a configured sender, not by apps. **Signature** (ours): `X-EngiPay-Source: <name>` (a key of "
    '`WEBHOOK_SOURCES`, whose `topics` must include "{topic}"), `X-EngiPay-Timestamp: <unix seconds>`, '
    "`X-EngiPay-Signature: v1=<hex>` where hex = HMAC-SHA256(secret, `<timestamp>.` + raw body); several `v1=` "
    "values (comma or space separated) are accepted while a secret is rotated. "
    "**Checks, in order:** body size (over `WEBHOOK_MAX_BYTES` → 413 `payload_too_large`, refused before it is read "
    "and not logged), no sender "
    "configured for this endpoint → 503 `webhook_not_configured`, unknown sender → 401 `unknown_source`, "
    "no timestamp → 400 `missing_timestamp` (`invalid_timestamp` if not unix seconds), no signature → 400 "
    "`missing_signature`, wrong signature → 401 `invalid_signature`, timestamp more than "
    "`WEBHOOK_TOLERANCE_SECONDS` from our clock → 401 `stale_timestamp`, sender not allowed this topic → 403 "
    "`topic_not_allowed`, body not JSON → 400 `malformed_json`, wrong shape → 400 `invalid_payload` (field errors "
    "in `details`). **Replay:** the body's `id` is the event id; an event id already accepted from the same "
    'sender on the same endpoint answers 200 with `"duplicate": true` and the first delivery\'s id and status, and '
    "has no second effect (the same id on another endpoint is another event). Every other request (accepted, "
    "duplicate or refused) is kept in the delivery log; requests are throttled "
    "per client IP (429 `throttled`, not stored). An accepted delivery is processed by the worker after the "
    "response."
)

_PARAMETERS = [
    OpenApiParameter(signing.SOURCE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="Sender name."),
    OpenApiParameter(signing.TIMESTAMP_HEADER, OpenApiTypes.INT, OpenApiParameter.HEADER, description="Unix seconds."),
    OpenApiParameter(
        signing.SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="v1=<hex>[, v1=<hex>]"
    ),
]

_ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 413, 429, 503)}

_ACK_EXAMPLES = [
    OpenApiExample(
        "Accepted",
        value={
            "received": True,
            "duplicate": False,
            "delivery_id": "3f0c2a5e-8a61-4c1e-9a7e-2f4b8d1c6e90",
            "status": "queued",
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Duplicate",
        value={
            "received": True,
            "duplicate": True,
            "delivery_id": "3f0c2a5e-8a61-4c1e-9a7e-2f4b8d1c6e90",
            "status": "processed",
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Bad signature",
        value={
            "error": {
                "code": "invalid_signature",
                "message": "The signature does not match the body and timestamp.",
                "details": {},
            }
        },
        response_only=True,
        status_codes=["401"],
    ),
]

_TX_HASH = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


class BlockchainWebhookView(_WebhookView):
    topic = "blockchain"

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_blockchain_transaction",
        summary="Blockchain transaction webhook (sender to EngiPay)",
        description=_SIGNING.format(topic="blockchain")
        + " **Alchemy** Address Activity webhooks are accepted here as they are: `X-Alchemy-Signature` = hex "
        "HMAC-SHA256 of the raw body with a key of `ALCHEMY_WEBHOOK_SIGNING_KEYS` (source `alchemy`); Alchemy sends "
        "no timestamp header and its retries keep the signed body's `createdAt`, which may be up to "
        "`ALCHEMY_WEBHOOK_TOLERANCE_SECONDS` old (at most `WEBHOOK_RETENTION_DAYS`, for which the event id `id` is "
        "kept as the replay guard) and no more than `WEBHOOK_TOLERANCE_SECONDS` ahead of our clock; `event.network` is "
        "mapped to our chain by `ALCHEMY_NETWORKS`; every `event.activity[].hash` (a `log.removed: true` entry "
        "too) is a transaction to look at; an envelope with `event.error` (or of another type than "
        "ADDRESS_ACTIVITY) is stored and ignored. **A webhook is a hint, never the truth:** each transaction we "
        "track with a claimed hash (on that network) and that is still open is re-read from the chain, which "
        "alone decides its status; the payload's `status` and `block_number` are never applied. A hash we do not "
        "track, or one the chain does not have, changes nothing.",
        request=PolymorphicProxySerializer(
            component_name="BlockchainTransactionWebhook",
            serializers=[payloads.BlockchainWebhookSerializer, payloads.AlchemyWebhookSerializer],
            resource_type_field_name=None,
        ),
        parameters=[
            *_PARAMETERS,
            OpenApiParameter(
                signing.ALCHEMY_SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Alchemy's signature (instead of the three X-EngiPay headers).",
            ),
        ],
        responses={200: WebhookReceiptOutput, **_ERRORS},
        examples=[
            OpenApiExample(
                "Ours",
                value={
                    "id": "evt_01HZX3K9Q4",
                    "type": "transaction.updated",
                    "network": "ethereum",
                    "tx_hash": _TX_HASH,
                    "block_number": 19876543,
                    "status": "confirmed",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Alchemy address activity",
                value={
                    "webhookId": "wh_octjglnywaupz6th",
                    "id": "whevt_ogrc5v64myey69ux",
                    "createdAt": "2024-01-01T00:00:00.000000000Z",
                    "type": "ADDRESS_ACTIVITY",
                    "event": {
                        "network": "ETH_MAINNET",
                        "activity": [
                            {
                                "blockNum": "0x12f4a3f",
                                "hash": _TX_HASH,
                                "fromAddress": "0x503828976d22510aad0201ac7ec88293211d23da",
                                "toAddress": "0xbe3f4b43db5eb49d1f48f53443b9abce45da3b79",
                                "value": 1.5,
                                "asset": "ETH",
                                "category": "external",
                                "rawContract": {"rawValue": "0x14d1120d7b160000", "decimals": 18},
                            }
                        ],
                    },
                },
                request_only=True,
            ),
            *_ACK_EXAMPLES,
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return self.receive(request)


class PricesWebhookView(_WebhookView):
    topic = "prices"

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_prices_update",
        summary="Price update webhook (sender to EngiPay)",
        description=_SIGNING.format(topic="prices")
        + " Each price is a JSON string or integer (a float is refused: 400 `invalid_payload`). A price is stored "
        "(source `webhook:<sender>`) only if the token is known and active, the price positive and in range, "
        "`observed_at` at most 60 s ahead of our clock and not older than the token's staleness limit, and the price "
        "within `WEBHOOK_PRICE_MAX_DEVIATION_PERCENT` of the latest price we read ourselves (Chainlink, CoinGecko) "
        "in the last 24 hours (none: refused); the others are "
        "refused one by one (listed in the delivery log), while the delivery itself is still accepted. Stored "
        "prices become the current price when they are the newest observation, and trigger price alerts.",
        request=payloads.PricesWebhookSerializer,
        parameters=_PARAMETERS,
        responses={200: WebhookReceiptOutput, **_ERRORS},
        examples=[
            OpenApiExample(
                "Prices",
                value={
                    "id": "prc_01HZX3M2B7",
                    "prices": [
                        {"symbol": "ETH", "price_usd": "2500.12", "observed_at": "2024-01-01T00:00:00Z"},
                        {"symbol": "USDC", "price_usd": 1, "observed_at": "2024-01-01T00:00:00Z"},
                    ],
                },
                request_only=True,
            ),
            *_ACK_EXAMPLES,
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return self.receive(request)


class DefiWebhookView(_WebhookView):
    topic = "defi"

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_defi_position_update",
        summary="DeFi position update webhook (sender to EngiPay)",
        description=_SIGNING.format(topic="defi")
        + " **Not processed yet:** no DeFi app exists in this deployment, so an accepted delivery is verified, "
        'deduplicated and kept with status `unhandled`; nothing else happens. Once an app handles the "defi" topic, '
        "staff can process kept deliveries again from the admin.",
        request=payloads.DefiWebhookSerializer,
        parameters=_PARAMETERS,
        responses={200: WebhookReceiptOutput, **_ERRORS},
        examples=[
            OpenApiExample(
                "Position update",
                value={
                    "id": "defi_01HZX3P8C1",
                    "protocol": "vesu",
                    "network": "starknet",
                    "wallet_address": "0x04a3b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
                    "position_id": "vesu-pool-1:0x04a3",
                    "event": "position.updated",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Kept, not processed",
                value={
                    "received": True,
                    "duplicate": False,
                    "delivery_id": "3f0c2a5e-8a61-4c1e-9a7e-2f4b8d1c6e90",
                    "status": "unhandled",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return self.receive(request)
