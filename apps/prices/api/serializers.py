from __future__ import annotations

from rest_framework import serializers

from apps.prices.selectors import INTERVALS, PERIODS


def _number(decimal_places: int, **kwargs) -> serializers.DecimalField:
    # A JSON number rendered from the Decimal (DESIGN.md section 3), rounded only here at the edge.
    return serializers.DecimalField(max_digits=None, decimal_places=decimal_places, coerce_to_string=False, **kwargs)


class PriceQuoteOutput(serializers.Serializer):
    usd = _number(8, help_text="USD price.")
    change_24h = _number(4, allow_null=True, help_text="Percent change over 24 hours; null when unknown.")
    change_7d = _number(4, allow_null=True, help_text="Percent change over 7 days (from stored prices); null if none.")
    market_cap = _number(2, allow_null=True, help_text="USD market cap; null when the source gives none (Chainlink).")
    volume_24h = _number(2, allow_null=True, help_text="USD 24h volume; null when the source gives none (Chainlink).")
    last_updated = serializers.DateTimeField(help_text="The source's own timestamp.")
    source = serializers.CharField(help_text='Where the price comes from: "chainlink:<chain>" or "coingecko".')
    stale = serializers.BooleanField(help_text="True when older than the asset's staleness limit: do not trust it.")


class PricesCurrentOutput(serializers.Serializer):
    prices = serializers.DictField(child=PriceQuoteOutput(), help_text="Keyed by symbol.")
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Requested (or, with no filter, active) symbols with no price at all."
    )


class PriceHistoryInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=16)
    period = serializers.CharField(max_length=8, default="7d", help_text=f"One of {', '.join(PERIODS)}.")
    interval = serializers.CharField(
        max_length=8,
        required=False,
        help_text=f"One of {', '.join(INTERVALS)}; default: the finest that fits the point limit.",
    )


class PriceHistoryPointOutput(serializers.Serializer):
    timestamp = serializers.DateTimeField(help_text="Start of the bucket (UTC).")
    price = _number(8, help_text="The last stored price observed in the bucket.")
    volume = _number(2, allow_null=True, help_text="24h USD volume reported with that price; null if none.")


class PriceHistoryOutput(serializers.Serializer):
    symbol = serializers.CharField()
    period = serializers.CharField()
    interval = serializers.CharField()
    data = PriceHistoryPointOutput(many=True, help_text="Oldest first; buckets with no stored price are left out.")
