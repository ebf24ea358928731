"""Stored prices: the API guide's ``asset_prices`` table, one row per (token, source, source timestamp)."""

from __future__ import annotations

import uuid

from django.conf import settings
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


class PriceAlert(models.Model):
    """``POST /api/notifications/price-alerts``: tell the user once when a stored price crosses ``price``.

    Armed alerts are evaluated against every price stored after ``armed_at`` (ingestion and the price webhook);
    the first one on the far side of the threshold triggers it (one notification), and it stays quiet until the
    user re-arms it.
    """

    class Direction(models.TextChoices):
        ABOVE = "above", "At or above"
        BELOW = "below", "At or below"

    class Status(models.TextChoices):
        ARMED = "armed", "Armed"
        TRIGGERED = "triggered", "Triggered"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts")
    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="price_alerts")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    price = ExactDecimalField(max_digits=38, decimal_places=18, help_text="USD threshold.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ARMED)
    armed_at = models.DateTimeField()
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = models.ForeignKey(
        AssetPrice,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The price that fired it.",
    )
    notification_id = models.UUIDField(null=True, blank=True)
    note = models.CharField(max_length=140, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["token", "status"], name="prices_alert_armed")]

    def __str__(self) -> str:
        return f"{self.token.symbol} {self.direction} {self.price} ({self.status})"
