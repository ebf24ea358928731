from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.chains.units import from_base_units
from apps.portfolio.services import AssetBalance, Portfolio, portfolio_for_user
from engipay.api.validation import ErrorSerializer, validated

from .serializers import PortfolioOutput


class BalancesQuery(serializers.Serializer):
    include_zero = serializers.BooleanField(default=False)


def _asset(asset: AssetBalance) -> dict:
    token, price = asset.deployment.token, asset.price
    return {
        "symbol": token.symbol,
        "name": token.name,
        "balance": from_base_units(asset.base_units, asset.deployment.decimals),
        "value_usd": asset.value_usd,
        "change_24h": price.change_24h if price else None,
        "icon": token.icon_url,
        "chain": asset.chain,
        "contract_address": asset.deployment.address,
        "decimals": asset.deployment.decimals,
        "price_usd": price.usd if price else None,
        "price_source": price.source if price else None,
        "price_stale": price.stale if price else None,
        "price_updated_at": price.last_updated if price else None,
        "wallets": [_wallet(asset, address, amount) for address, amount in asset.wallets.items()],
    }


def _wallet(asset: AssetBalance, address: str, amount: int) -> dict:
    row = {"address": address, "balance": from_base_units(amount, asset.deployment.decimals)}
    if address in asset.unconfirmed:
        row["unconfirmed_balance"] = from_base_units(asset.unconfirmed[address], asset.deployment.decimals)
    return row


def _body(portfolio: Portfolio) -> dict:
    # Totals count fresh prices only; assets priced with a stale price are named in ``stale_prices``.
    fresh = [a for a in portfolio.assets if a.price is not None and not a.price.stale]
    changes = [a.change_24h_usd for a in fresh if a.change_24h_usd is not None]
    return {
        "total_value_usd": sum((a.value_usd for a in fresh), Decimal(0)),
        "total_change_24h": sum(changes, Decimal(0)),
        "stale_prices": sorted({a.deployment.token.symbol for a in portfolio.assets if a.price and a.price.stale}),
        "unpriced": sorted({a.deployment.token.symbol for a in portfolio.assets if a.price is None}),
        "last_updated": portfolio.read_at,
        "assets": [_asset(a) for a in portfolio.assets],
        "errors": portfolio.errors,
        "blocks": portfolio.blocks,
    }


class RealBalancesView(APIView):
    @extend_schema(
        tags=["portfolio"],
        summary="Balances of all your verified wallets on every configured chain, read from the chain",
        parameters=[OpenApiParameter("include_zero", OpenApiTypes.BOOL, description="Also list zero balances.")],
        responses={200: PortfolioOutput, 400: ErrorSerializer, 401: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Guide shape",
                response_only=True,
                value={
                    "total_value_usd": 6256.0,
                    "total_change_24h": 152.3,
                    "last_updated": "2026-11-26T10:30:00Z",
                    "assets": [
                        {
                            "symbol": "ETH",
                            "name": "Ethereum",
                            "balance": "1.234567",
                            "value_usd": 2456.78,
                            "change_24h": 2.5,
                            "icon": "",
                            "chain": "ethereum",
                            "contract_address": "0x0000000000000000000000000000000000000000",
                            "decimals": 18,
                            "price_usd": 1990.0,
                            "price_source": "chainlink:ethereum",
                            "price_stale": False,
                            "price_updated_at": "2026-11-26T10:29:00Z",
                            "wallets": [
                                {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "balance": "1.234567"}
                            ],
                        }
                    ],
                    "errors": [],
                    "blocks": {"ethereum": 18500000},
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = validated(BalancesQuery, request.query_params)
        portfolio = portfolio_for_user(user=request.user, include_zero=query["include_zero"])
        return Response(PortfolioOutput(_body(portfolio)).data)
