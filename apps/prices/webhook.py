"""The price webhook (apps.webhooks, topic "prices"): USD prices pushed by a sender configured for the topic.

A pushed price is checked like an ingested quote (``quote_rejection``: positive, in range, not older than the
token's ``price_stale_after_seconds``) and more: a known active token, at most 18 decimals (the column's scale; no
silent rounding), ``observed_at`` at most 60 s ahead of our clock, and no jump of more than
WEBHOOK_PRICE_MAX_DEVIATION_PERCENT from the latest price we read ourselves (refused with none from the last day).
Accepted prices are stored as source ``webhook:<sender>`` (the same observation twice is stored once) and
evaluated against the price alerts. Refused prices are listed, one line each, in the result. Registered from
``PricesConfig.ready()``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.chains.models import Token
from apps.prices.alerts import price_alerts_evaluate
from apps.prices.models import AssetPrice
from apps.prices.selectors import tokens_for_symbols
from apps.prices.services import asset_price_record, quote_rejection
from apps.prices.sources import Quote
from apps.webhooks.registry import WebhookEvent, WebhookIgnored

TOPIC = "prices"
FUTURE_SKEW = timedelta(seconds=60)
INDEPENDENT_PRICE_MAX_AGE = timedelta(hours=24)
MAX_DECIMALS = 18


def prices_webhook_handle(event: WebhookEvent) -> str:
    config = settings.WEBHOOK_SOURCES.get(event.source) if isinstance(settings.WEBHOOK_SOURCES, dict) else None
    if not isinstance(config, dict) or TOPIC not in (config.get("topics") or []):
        # Checked when the delivery arrived too; the configuration may have changed before it was processed.
        raise WebhookIgnored(f"{event.source} is not configured to push prices; nothing stored.")
    points = event.payload["prices"]
    tokens = {token.symbol: token for token in tokens_for_symbols([point["symbol"] for point in points])}
    now = timezone.now()
    stored: list[AssetPrice] = []
    lines = []
    for point in points:
        quote, refusal = _quote(point, tokens.get(point["symbol"]), source=f"webhook:{event.source}", now=now)
        if quote is None:
            lines.append(f"{point['symbol']}: refused, {refusal}")
            continue
        row, created = asset_price_record(quote=quote)
        if created:
            stored.append(row)
            lines.append(f"{point['symbol']}: stored {quote.price_usd} USD")
        elif row.price_usd == quote.price_usd:
            lines.append(f"{point['symbol']}: already stored {quote.price_usd} USD")
        else:  # one observation per sender and moment: the first one stays
            lines.append(f"{point['symbol']}: refused, {_usd(row.price_usd)} USD is already stored for this moment")
    fired = price_alerts_evaluate(rows=stored) if stored else 0
    summary = f"{len(stored)} price(s) stored, {len(points) - len(stored)} not; {fired} alert(s) fired."
    return "\n".join([summary, *lines])


def _quote(point: dict[str, Any], token: Token | None, *, source: str, now: datetime) -> tuple[Quote | None, str]:
    if token is None:
        return None, "unknown or inactive token"
    price = Decimal(point["price_usd"])
    if price.as_tuple().exponent < -MAX_DECIMALS:  # type: ignore[operator]
        return None, f"more than {MAX_DECIMALS} decimals"
    observed_at = datetime.fromisoformat(point["observed_at"])
    if observed_at > now + FUTURE_SKEW:
        return None, f"observed_at {point['observed_at']} is in the future"
    quote = Quote(token_id=token.pk, symbol=token.symbol, price_usd=price, observed_at=observed_at, source=source)
    rejection = quote_rejection(quote=quote, token=token, now=now)
    if rejection is not None:
        return None, rejection.removeprefix(f"{source}: ")
    # The reference is the latest price from a source we read ourselves (Chainlink, CoinGecko) in the last day, so
    # that a sender can neither walk a price away in steps of its own pushes nor set one we cannot check.
    latest = (
        AssetPrice.objects.filter(token=token, observed_at__gte=now - INDEPENDENT_PRICE_MAX_AGE)
        .exclude(source__startswith="webhook:")
        .order_by("-observed_at", "-id")
        .first()
    )
    if latest is None or latest.price_usd <= 0:
        return None, "no price of our own from the last 24 hours to check it against"
    limit = Decimal(settings.WEBHOOK_PRICE_MAX_DEVIATION_PERCENT)
    moved = abs(price - latest.price_usd) / latest.price_usd * 100
    if moved > limit:
        return None, (
            f"{moved:.2f}% away from the latest stored price {_usd(latest.price_usd)} ({latest.source}); "
            f"at most {limit}% is accepted"
        )
    return quote, ""


def _usd(value: Decimal) -> str:
    return format(value.normalize(), "f")  # the stored scale (18 places) without its trailing zeros
