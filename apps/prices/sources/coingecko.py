"""CoinGecko API v3 over httpx: ``/simple/price`` for current prices, ``/coins/{id}/market_chart`` for history.

JSON numbers are parsed straight into ``Decimal`` (``json.loads(..., parse_float=Decimal)``), never through a
binary float. The API key (optional: keyless works within CoinGecko's shared limits) goes in the header of its
plan: ``x-cg-demo-api-key`` or ``x-cg-pro-api-key``. Rate limits (429) and server errors are
``provider_unavailable`` (503); other refusals are ``upstream_error`` (502).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from apps.chains.models import Token
from engipay.api.errors import UpstreamError, UpstreamUnavailable

from .base import Quote

logger = logging.getLogger(__name__)

SOURCE_NAME = "coingecko"
IDS_PER_REQUEST = 100  # keeps the URL well under common proxy limits


def parse_json(text: str) -> Any:
    # NaN/Infinity are not JSON numbers CoinGecko documents; they become "unknown" rather than a float.
    return json.loads(text, parse_float=Decimal, parse_constant=lambda _name: None)


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def from_unix(seconds: Any) -> datetime | None:
    number = to_decimal(seconds)
    if number is None:
        return None
    return datetime.fromtimestamp(int(number), tz=UTC)


def from_unix_ms(milliseconds: Any) -> datetime | None:
    number = to_decimal(milliseconds)
    if number is None:
        return None
    whole = int(number)
    return datetime.fromtimestamp(whole // 1000, tz=UTC) + timedelta(milliseconds=whole % 1000)


def _error_info(response: httpx.Response) -> tuple[Any, str]:
    """(error_code, message) from any of the error bodies CoinGecko is seen to send, or from a non-JSON page."""
    try:
        body = parse_json(response.text)
    except ValueError:
        return None, response.reason_phrase
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, str):
            return None, inner
        status = inner.get("status") if isinstance(inner, dict) else None
        if isinstance(status, dict):
            return status.get("error_code"), str(status.get("error_message", response.reason_phrase))
    return None, response.reason_phrase


class CoinGeckoClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        plan: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.base_url = (base_url or settings.COINGECKO_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.COINGECKO_API_KEY
        self.plan = plan or settings.COINGECKO_PLAN
        self.timeout = timeout or settings.COINGECKO_TIMEOUT_SECONDS

    def headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if self.api_key:
            headers[f"x-cg-{self.plan}-api-key"] = self.api_key
        return headers

    def get(self, path: str, params: dict[str, str]) -> Any:
        details: dict[str, Any] = {"provider": SOURCE_NAME}
        try:
            response = httpx.get(f"{self.base_url}{path}", params=params, headers=self.headers(), timeout=self.timeout)
        except httpx.TimeoutException:
            raise UpstreamUnavailable("provider_unavailable", "CoinGecko did not answer in time.", details) from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable("provider_unavailable", f"CoinGecko is unreachable: {exc}", details) from None
        if response.status_code >= 400:
            raise self.error_for(response, details)
        try:
            return parse_json(response.text)
        except ValueError:
            raise UpstreamError(
                "upstream_error", "CoinGecko answered with something that is not JSON.", details
            ) from None

    def error_for(self, response: httpx.Response, details: dict[str, Any]) -> Exception:
        error_code, message = _error_info(response)
        details = {**details, "status": response.status_code, "error_code": error_code}
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after", "")
            details["retry_after"] = int(retry_after) if retry_after.isdigit() else None
            return UpstreamUnavailable("provider_unavailable", f"CoinGecko rate limit reached: {message}", details)
        if response.status_code >= 500:
            return UpstreamUnavailable("provider_unavailable", f"CoinGecko failed: {message}", details)
        return UpstreamError("upstream_error", f"CoinGecko refused the request: {message}", details)

    def simple_price(self, ids: list[str]) -> dict[str, Any]:
        prices: dict[str, Any] = {}
        for start in range(0, len(ids), IDS_PER_REQUEST):
            params = {
                "ids": ",".join(ids[start : start + IDS_PER_REQUEST]),
                "vs_currencies": "usd",
                "include_market_cap": "true",
                "include_24hr_vol": "true",
                "include_24hr_change": "true",
                "include_last_updated_at": "true",
                "precision": "full",
            }
            body = self.get("/simple/price", params)
            if isinstance(body, dict):
                prices.update(body)
        return prices

    def market_chart(self, coin_id: str, *, days: int) -> dict[str, Any]:
        body = self.get(
            f"/coins/{coin_id}/market_chart", {"vs_currency": "usd", "days": str(days), "precision": "full"}
        )
        return body if isinstance(body, dict) else {}


class CoinGeckoSource:
    name = SOURCE_NAME

    def __init__(self, client: CoinGeckoClient | None = None) -> None:
        self.client = client or CoinGeckoClient()

    def fetch(self, tokens: list[Token]) -> list[Quote]:
        by_coin: dict[str, list[Token]] = defaultdict(list)
        for token in tokens:
            if token.coingecko_id:
                by_coin[token.coingecko_id].append(token)
        if not by_coin:
            return []
        data = self.client.simple_price(sorted(by_coin))
        fetched = timezone.now()
        quotes = []
        for coin_id, coin_tokens in by_coin.items():
            entry = data.get(coin_id)
            price = to_decimal(entry.get("usd")) if isinstance(entry, dict) else None
            if price is None:
                continue  # CoinGecko leaves unknown ids out
            observed = from_unix(entry.get("last_updated_at")) or fetched
            quotes.extend(
                Quote(
                    token_id=token.pk,
                    symbol=token.symbol,
                    price_usd=price,
                    observed_at=observed,
                    source=SOURCE_NAME,
                    change_24h=to_decimal(entry.get("usd_24h_change")),
                    market_cap=to_decimal(entry.get("usd_market_cap")),
                    volume_24h=to_decimal(entry.get("usd_24h_vol")),
                )
                for token in coin_tokens
            )
        return quotes
