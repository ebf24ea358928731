from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from apps.prices.alerts import usd_text
from apps.prices.models import PriceAlert


class PriceInputField(serializers.DecimalField):
    """A positive USD price as a decimal string (``"2500.00"``). JSON floats are refused: they are binary
    approximations, and a threshold must be exactly what the user typed. Range and precision are the service's."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=None, decimal_places=None, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, float):
            raise serializers.ValidationError('Send the price as a decimal string, e.g. "2500.00", not a float.')
        if isinstance(data, bool):
            raise serializers.ValidationError("A valid number is required.")
        if isinstance(data, str) and (len(data) > 100 or "e" in data.lower()):
            raise serializers.ValidationError('Write the price as plain digits, e.g. "2500.00" (no exponent).')
        value = super().to_internal_value(data)
        if not value.is_finite() or value <= 0:
            raise serializers.ValidationError("Must be more than zero.")
        return value


class UsdTextField(serializers.CharField):
    """A stored USD Decimal as a plain decimal string: every digit, no exponent, at least two decimals."""

    def to_representation(self, value: Decimal) -> str:
        return usd_text(value)


class PriceAlertCreateInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=16, help_text="An active asset with a stored price, e.g. ETH.")
    direction = serializers.ChoiceField(
        choices=PriceAlert.Direction.choices, help_text="above: price >= threshold; below: price <= threshold."
    )
    price = PriceInputField(help_text='USD threshold as a decimal string, e.g. "2500.00" (at most 18 decimals).')
    note = serializers.CharField(max_length=140, required=False, allow_blank=True, default="")


class PriceAlertRearmInput(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=PriceAlert.Direction.choices, required=False, help_text="A new direction (default: unchanged)."
    )
    price = PriceInputField(required=False, help_text="A new USD threshold (default: unchanged).")


class TriggeredPriceOutput(serializers.Serializer):
    price = UsdTextField(source="price_usd", help_text="The stored USD price that fired the alert.")
    observed_at = serializers.DateTimeField(help_text="The source's own timestamp for that price.")
    source = serializers.CharField(help_text='e.g. "chainlink:mainnet" or "coingecko".')


class CurrentPriceOutput(serializers.Serializer):
    price = UsdTextField(source="usd", help_text="The latest stored USD price.")
    observed_at = serializers.DateTimeField(source="last_updated", help_text="The source's own timestamp.")
    source = serializers.CharField()
    stale = serializers.BooleanField(help_text="Older than the asset's staleness limit: do not trust it.")


class PriceAlertOutput(serializers.Serializer):
    id = serializers.UUIDField()
    symbol = serializers.CharField(source="token.symbol")
    direction = serializers.ChoiceField(choices=PriceAlert.Direction.choices)
    price = UsdTextField(help_text="The USD threshold, as a decimal string.")
    status = serializers.ChoiceField(choices=PriceAlert.Status.choices)
    armed_at = serializers.DateTimeField(help_text="Only prices observed after this can trigger the alert.")
    triggered_at = serializers.DateTimeField(allow_null=True, help_text="When it fired; null while armed.")
    triggered_price = TriggeredPriceOutput(allow_null=True, help_text="The price that fired it; null while armed.")
    current_price = CurrentPriceOutput(
        source="current_quote", allow_null=True, help_text="The latest stored price; null when there is none."
    )
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class PriceAlertPageOutput(serializers.Serializer):
    alerts = PriceAlertOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()
