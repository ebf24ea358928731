from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.prices import selectors
from engipay.api.validation import ErrorSerializer, validated

from .serializers import PriceHistoryInput, PriceHistoryOutput, PricesCurrentOutput

CURRENT_EXAMPLE = OpenApiExample(
    "ETH from the chain, BTC from CoinGecko, STRK with no price",
    value={
        "prices": {
            "ETH": {
                "usd": 2000.0,
                "change_24h": 2.5,
                "change_7d": -1.2,
                "market_cap": None,
                "volume_24h": None,
                "last_updated": "2024-01-24T10:30:00Z",
                "source": "chainlink:mainnet",
                "stale": False,
            },
            "BTC": {
                "usd": 42000.5,
                "change_24h": -0.8,
                "change_7d": 3.1,
                "market_cap": 820000000000.0,
                "volume_24h": 15000000000.0,
                "last_updated": "2024-01-24T10:29:40Z",
                "source": "coingecko",
                "stale": False,
            },
        },
        "missing": ["STRK"],
    },
    response_only=True,
)
UNKNOWN_SYMBOL_EXAMPLE = OpenApiExample(
    "Unknown symbol",
    value={
        "error": {
            "code": "unknown_symbol",
            "message": "Unknown symbol(s): DOGE.",
            "details": {"unknown": ["DOGE"], "known": ["BTC", "DAI", "ETH", "STRK", "USDC", "USDT", "WBTC"]},
        }
    },
    response_only=True,
    status_codes=["400"],
)
HISTORY_EXAMPLE = OpenApiExample(
    "ETH hourly over 7 days",
    value={
        "symbol": "ETH",
        "period": "7d",
        "interval": "1h",
        "data": [
            {"timestamp": "2024-01-17T10:00:00Z", "price": 1950.0, "volume": 850000000.0},
            {"timestamp": "2024-01-17T11:00:00Z", "price": 1953.25, "volume": None},
        ],
    },
    response_only=True,
)
BAD_PERIOD_EXAMPLE = OpenApiExample(
    "A period that is not offered",
    value={
        "error": {
            "code": "invalid_input",
            "message": "period must be one of 24h, 7d, 30d, 90d, 1y.",
            "details": {"period": {"value": "2d", "allowed": ["24h", "7d", "30d", "90d", "1y"]}},
        }
    },
    response_only=True,
    status_codes=["400"],
)


class PricesCurrentView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["prices"],
        summary="Current USD prices",
        description=(
            "The latest stored price of each asset (ingested every minute from Chainlink feeds on-chain, then "
            "CoinGecko as fallback). Fields beyond the guide: `source`, `stale` (older than the asset's staleness "
            "limit) and `missing` (assets with no price at all). An unknown symbol is a 400 listing the known ones."
        ),
        parameters=[
            OpenApiParameter(
                "symbols", OpenApiTypes.STR, description="Comma-separated symbols, e.g. ETH,BTC (default: all)"
            )
        ],
        responses={200: PricesCurrentOutput, 400: ErrorSerializer, 429: ErrorSerializer},
        examples=[CURRENT_EXAMPLE, UNKNOWN_SYMBOL_EXAMPLE],
        auth=[],
    )
    def get(self, request: Request) -> Response:
        symbols = selectors.parse_symbols(request.query_params.get("symbols"))
        quotes, missing = selectors.price_board(symbols=symbols)
        body = {"prices": quotes, "missing": missing}
        return Response(PricesCurrentOutput(body).data)


class PriceHistoryView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["prices"],
        summary="USD price history",
        description=(
            "Stored prices bucketed by `interval` over the past `period`: each point is the last price observed in "
            "its bucket (timestamp = bucket start, UTC); buckets with no price are left out. Too many points "
            "(e.g. 1y at 5m) is a 400 `too_many_points` naming the intervals that fit."
        ),
        parameters=[
            OpenApiParameter("symbol", OpenApiTypes.STR, required=True, description="e.g. ETH"),
            OpenApiParameter("period", OpenApiTypes.STR, enum=list(selectors.PERIODS), default="7d"),
            OpenApiParameter(
                "interval",
                OpenApiTypes.STR,
                enum=list(selectors.INTERVALS),
                description="Default: the finest interval that fits the point limit for the period.",
            ),
        ],
        responses={200: PriceHistoryOutput, 400: ErrorSerializer, 429: ErrorSerializer},
        examples=[HISTORY_EXAMPLE, BAD_PERIOD_EXAMPLE],
        auth=[],
    )
    def get(self, request: Request) -> Response:
        query = validated(PriceHistoryInput, request.query_params)
        period, interval = selectors.history_window(period=query["period"], interval=query.get("interval"))
        token = selectors.token_get_by_symbol(symbol=query["symbol"])
        points = selectors.price_history(
            token=token, period=selectors.PERIODS[period], interval=selectors.INTERVALS[interval]
        )
        body = {"symbol": token.symbol, "period": period, "interval": interval, "data": points}
        return Response(PriceHistoryOutput(body).data)
