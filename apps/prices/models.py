"""Stored prices: the API guide's ``asset_prices`` table, one row per (token, source, source timestamp)."""

from __future__ import annotations

from django.db import models

from apps.chains.fields import ExactDecimalField
from apps.chains.models import Token


class AssetPrice(models.Model):
    """One USD price as a source published it. Rows are never updated: re-reading the same observation is a no-op.

    ``observed_at`` is the source's own timestamp (Chainlink ``updatedAt``, CoinGecko ``last_updated_at`` or the
    ``market_chart`` point time); ``fetched_at`` is when we stored it.
    """

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="prices")
    price_usd = ExactDecimalField(max_digits=38, decimal_places=18)
    change_24h = ExactDecimalField(
        max_digits=38, decimal_places=18, null=True, blank=True, help_text="Percent over 24 hours; null when unknown."
    )
    market_cap = ExactDecimalField(max_digits=38, decimal_places=8, null=True, blank=True)
    volume_24h = ExactDecimalField(max_digits=38, decimal_places=8, null=True, blank=True)
    source = models.CharField(max_length=64, help_text='e.g. "chainlink:local" or "coingecko".')
    observed_at = models.DateTimeField(help_text="The source's own timestamp for this price.")
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observed_at", "-id"]
        indexes = [models.Index(fields=["token", "observed_at"], name="prices_token_observed")]
        constraints = [
            models.UniqueConstraint(fields=["token", "source", "observed_at"], name="prices_unique_observation"),
        ]

    def __str__(self) -> str:
        return f"{self.token.symbol} {self.price_usd} USD ({self.source} at {self.observed_at:%Y-%m-%d %H:%M:%S})"
