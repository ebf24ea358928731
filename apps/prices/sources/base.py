"""The one interface every price source implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from apps.chains.models import Token


@dataclass(frozen=True)
class Quote:
    """A USD price as a source published it, before any freshness check.

    ``max_age_seconds`` is the oldest ``observed_at`` the source itself vouches for (a Chainlink feed's heartbeat);
    the ingestion also applies the token's own ``price_stale_after_seconds``.
    """

    token_id: int
    symbol: str
    price_usd: Decimal
    observed_at: datetime
    source: str
    change_24h: Decimal | None = None
    market_cap: Decimal | None = None
    volume_24h: Decimal | None = None
    max_age_seconds: int | None = None


class PriceSource(Protocol):
    name: str

    def fetch(self, tokens: list[Token]) -> list[Quote]:
        """Quotes for the tokens this source can price (others are simply absent).

        Raises ``UpstreamUnavailable``/``UpstreamError`` when the source as a whole cannot be read.
        """
        ...
