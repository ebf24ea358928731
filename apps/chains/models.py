"""Token registry: what an asset is, where it lives on each configured chain, and its price sources."""

from __future__ import annotations

from django.db import models

NATIVE_ADDRESS = "0x0000000000000000000000000000000000000000"


class Token(models.Model):
    symbol = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    icon_url = models.URLField(blank=True)
    coingecko_id = models.CharField(max_length=64, blank=True, help_text="CoinGecko API id, e.g. ethereum.")
    price_stale_after_seconds = models.PositiveIntegerField(
        default=3600, help_text="A price older than this is reported with stale: true."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class TokenDeployment(models.Model):
    """A token on one chain (``chain`` is a key of settings.CHAINS). Native coins use the zero address."""

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="deployments")
    chain = models.CharField(max_length=32, db_index=True)
    address = models.CharField(max_length=66, help_text="EIP-55 contract address; the zero address for native.")
    decimals = models.PositiveSmallIntegerField()
    is_native = models.BooleanField(default=False)

    class Meta:
        ordering = ["chain", "token__symbol"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "address"], name="chains_deployment_unique_address"),
            models.UniqueConstraint(fields=["chain", "token"], name="chains_deployment_unique_token"),
        ]

    def __str__(self) -> str:
        return f"{self.token.symbol} on {self.chain}"


class PriceFeed(models.Model):
    """A Chainlink AggregatorV3 (``latestRoundData``) giving the token's USD price on one chain."""

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="price_feeds")
    chain = models.CharField(max_length=32)
    address = models.CharField(max_length=66)
    stale_after_seconds = models.PositiveIntegerField(
        default=3600, help_text="Heartbeat: an answer whose updatedAt is older than this is not used."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["token__symbol", "chain"]
        constraints = [models.UniqueConstraint(fields=["token", "chain"], name="chains_pricefeed_unique")]

    def __str__(self) -> str:
        return f"{self.token.symbol}/USD on {self.chain}"
