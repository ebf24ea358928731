from __future__ import annotations

from rest_framework import serializers

MONEY = {"max_digits": 40, "decimal_places": 2, "coerce_to_string": False}
PRICE = {"max_digits": 40, "decimal_places": 8, "coerce_to_string": False}


class WalletBalanceOutput(serializers.Serializer):
    address = serializers.CharField()
    balance = serializers.CharField(help_text="Decimal string in token units.")
    unconfirmed_balance = serializers.CharField(
        required=False, help_text="Bitcoin only: the mempool's not-yet-confirmed change (may be negative)."
    )


class AssetOutput(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField()
    balance = serializers.CharField(help_text="Decimal string in token units (exact).")
    value_usd = serializers.DecimalField(**MONEY, allow_null=True, help_text="null when no price is known.")
    change_24h = serializers.DecimalField(
        max_digits=20, decimal_places=2, coerce_to_string=False, allow_null=True, help_text="Price change, %."
    )
    icon = serializers.CharField(allow_blank=True)
    chain = serializers.CharField(help_text="Network key (settings CHAINS).")
    contract_address = serializers.CharField(help_text="The zero address for the native coin.")
    decimals = serializers.IntegerField()
    price_usd = serializers.DecimalField(**PRICE, allow_null=True)
    price_source = serializers.CharField(allow_null=True)
    price_stale = serializers.BooleanField(allow_null=True, help_text="true: the price is older than its limit.")
    price_updated_at = serializers.DateTimeField(allow_null=True)
    wallets = WalletBalanceOutput(many=True)


class ChainErrorOutput(serializers.Serializer):
    chain = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class PortfolioOutput(serializers.Serializer):
    total_value_usd = serializers.DecimalField(**MONEY, help_text="Sum of the assets that have a fresh price.")
    total_change_24h = serializers.DecimalField(**MONEY, help_text="USD change over 24 h of the current holdings.")
    stale_prices = serializers.ListField(
        child=serializers.CharField(), help_text="Assets valued with a stale price: not counted in the totals."
    )
    unpriced = serializers.ListField(child=serializers.CharField(), help_text="Assets with no known price.")
    last_updated = serializers.DateTimeField()
    assets = AssetOutput(many=True)
    errors = ChainErrorOutput(many=True, help_text="Chains that could not be read: their assets are missing.")
    blocks = serializers.DictField(child=serializers.IntegerField(), help_text="Block read per chain.")
