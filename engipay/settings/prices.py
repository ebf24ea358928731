"""Prices: sources, staleness, ingestion (apps/prices).

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .env import env_int, env_json, env_list, env_optional, env_str

_KNOWN_PRICE_SOURCES = {"chainlink", "coingecko"}

# Source priority for every asset: the first source that gives a fresh price wins, the next ones are fallbacks.
PRICE_SOURCES = env_list("PRICE_SOURCES", ["chainlink", "coingecko"])
# Per-asset override of that order, e.g. {"USDC": ["coingecko", "chainlink"]}.
PRICE_SOURCES_BY_SYMBOL = {
    str(symbol).upper(): list(order) for symbol, order in env_json("PRICE_SOURCES_BY_SYMBOL", {}).items()
}
for _order in [PRICE_SOURCES, *PRICE_SOURCES_BY_SYMBOL.values()]:
    _unknown = set(_order) - _KNOWN_PRICE_SOURCES
    if _unknown or not _order:
        raise ImproperlyConfigured(
            f"Price sources {sorted(_unknown) or _order} not valid: "
            f"use a non-empty list of {sorted(_KNOWN_PRICE_SOURCES)}."
        )

PRICE_INGEST_EVERY_SECONDS = env_int("PRICE_INGEST_EVERY_SECONDS", 60, minimum=5)
# The most points /api/prices/history returns (e.g. 1y at 5m is refused).
PRICE_HISTORY_MAX_POINTS = env_int("PRICE_HISTORY_MAX_POINTS", 1000, minimum=10)
# Demo chain only (chain id 31337): how often and how far (basis points per step) the demo feeds move.
PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS = env_int("PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS", 30, minimum=1)
PRICE_LOCAL_FEEDS_MOVE_MAX_BPS = env_int("PRICE_LOCAL_FEEDS_MOVE_MAX_BPS", 50, minimum=0)

# CoinGecko: keyless works (shared IP limits); a Demo key goes to api.coingecko.com, a Pro key to pro-api.
COINGECKO_PLAN = env_str("COINGECKO_PLAN", "demo")
if COINGECKO_PLAN not in {"demo", "pro"}:
    raise ImproperlyConfigured(f"COINGECKO_PLAN={COINGECKO_PLAN!r}: use demo or pro.")
COINGECKO_API_KEY = env_optional("COINGECKO_API_KEY")
COINGECKO_BASE_URL = env_str(
    "COINGECKO_BASE_URL",
    "https://pro-api.coingecko.com/api/v3" if COINGECKO_PLAN == "pro" else "https://api.coingecko.com/api/v3",
).rstrip("/")
COINGECKO_TIMEOUT_SECONDS = env_int("COINGECKO_TIMEOUT_SECONDS", 10, minimum=1)
