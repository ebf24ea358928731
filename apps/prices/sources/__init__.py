"""Price sources behind one interface (``PriceSource.fetch(tokens) -> list[Quote]``)."""

from __future__ import annotations

from .base import PriceSource, Quote
from .chainlink import ChainlinkSource
from .coingecko import CoinGeckoClient, CoinGeckoSource

__all__ = ["ChainlinkSource", "CoinGeckoClient", "CoinGeckoSource", "PriceSource", "Quote", "source_for"]


def source_for(name: str) -> PriceSource:
    """The source named in ``PRICE_SOURCES`` (settings validate the names at start-up)."""
    if name == "chainlink":
        return ChainlinkSource()
    if name == "coingecko":
        return CoinGeckoSource()
    raise ValueError(f"unknown price source {name!r}")
