"""Price ingestion: ask the sources in each asset's priority order, store the first fresh price.

Idempotent: a row is keyed on (token, source, the source's own timestamp), so reading the same observation twice
stores it once. A price that is not fresh (older than the feed's heartbeat or the token's staleness limit, or not
positive) is never stored: the asset falls through to the next source, and is reported missing if none has one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.chains.models import Token
from engipay.api.errors import ApplicationError, InvalidInput

from . import alerts, selectors
from .models import AssetPrice
from .sources import CoinGeckoClient, Quote, source_for
from .sources.coingecko import SOURCE_NAME as COINGECKO
from .sources.coingecko import from_unix_ms, to_decimal

logger = logging.getLogger(__name__)

# The column holds 20 integer digits; anything larger is a broken answer, not a price.
MAX_PRICE = Decimal(10) ** 20


@dataclass
class IngestResult:
    stored: dict[str, str] = field(default_factory=dict)  # symbol -> source of a newly stored price
    unchanged: dict[str, str] = field(default_factory=dict)  # symbol -> source whose observation we already had
    rejected: dict[str, list[str]] = field(default_factory=dict)  # symbol -> why each offered quote was not used
    missing: list[str] = field(default_factory=list)  # symbols no source priced freshly
    errors: dict[str, str] = field(default_factory=dict)  # source name -> why it could not be read

    def as_dict(self) -> dict:
        return asdict(self)


def source_order(symbol: str) -> list[str]:
    return list(settings.PRICE_SOURCES_BY_SYMBOL.get(symbol.upper(), settings.PRICE_SOURCES))


def quote_rejection(*, quote: Quote, token: Token, now: datetime) -> str | None:
    if quote.price_usd <= 0:
        return f"{quote.source}: answer {quote.price_usd} is not positive"
    if quote.price_usd >= MAX_PRICE:
        return f"{quote.source}: answer {quote.price_usd} is out of range"
    limits = [token.price_stale_after_seconds]
    if quote.max_age_seconds is not None:
        limits.append(quote.max_age_seconds)
    if now - quote.observed_at > timedelta(seconds=min(limits)):
        return f"{quote.source}: stale, updated {quote.observed_at.isoformat()}"
    return None


def asset_price_record(*, quote: Quote) -> tuple[AssetPrice, bool]:
    """Store one observation unless it is already stored; returns (row, created)."""
    key = {"token_id": quote.token_id, "source": quote.source, "observed_at": quote.observed_at}
    existing = AssetPrice.objects.filter(**key).first()
    if existing is not None:
        return existing, False
    change_24h = quote.change_24h
    if change_24h is None:  # Chainlink gives no change: derive it from what we stored a day ago, or leave it null
        change_24h = selectors.price_change(
            token_id=quote.token_id,
            price=quote.price_usd,
            at=quote.observed_at,
            ago=timedelta(hours=24),
            tolerance=selectors.CHANGE_24H_TOLERANCE,
        )
    try:
        with transaction.atomic():
            row = AssetPrice.objects.create(
                **key,
                price_usd=quote.price_usd,
                change_24h=change_24h,
                market_cap=quote.market_cap,
                volume_24h=quote.volume_24h,
            )
    except IntegrityError:  # a concurrent ingestion stored the same observation first
        return AssetPrice.objects.get(**key), False
    return row, True


def prices_ingest(*, symbols: Iterable[str] | None = None) -> IngestResult:
    """Price every active token (or those in ``symbols``) from its sources in priority order."""
    tokens = {token.pk: token for token in selectors.tokens_for_symbols(symbols)}
    pending = {token_id: source_order(token.symbol) for token_id, token in tokens.items()}
    result = IngestResult()
    stored_rows: list[AssetPrice] = []
    failed: set[str] = set()
    while True:
        groups: dict[str, list[Token]] = defaultdict(list)
        for token_id, order in pending.items():
            while order and order[0] in failed:
                order.pop(0)
            if order:
                groups[order.pop(0)].append(tokens[token_id])
        if not groups:
            break
        for name, group in groups.items():
            try:
                quotes = source_for(name).fetch(group)
            except ApplicationError as exc:
                logger.warning("Price source %s failed: %s", name, exc.message)
                failed.add(name)
                result.errors[name] = exc.message
                continue
            _record_quotes(quotes=quotes, tokens=tokens, pending=pending, result=result, stored_rows=stored_rows)
    result.missing = sorted(tokens[token_id].symbol for token_id in pending)
    if result.missing:
        logger.info("No fresh price for %s", ", ".join(result.missing))
    if stored_rows:  # only new observations: an unchanged one was evaluated when it was first stored
        try:
            alerts.price_alerts_evaluate(rows=stored_rows)
        except Exception:
            # The prices are stored (each in its own transaction); alerts still armed are evaluated again with the
            # next price, so a failure here must not fail the ingestion.
            logger.exception("Price alert evaluation failed for %s", ", ".join(sorted(result.stored)))
    return result


def _record_quotes(
    *,
    quotes: list[Quote],
    tokens: dict[int, Token],
    pending: dict,
    result: IngestResult,
    stored_rows: list[AssetPrice],
) -> None:
    now = timezone.now()
    for quote in quotes:
        if quote.token_id not in pending:
            continue  # already priced by a quote earlier in the list (e.g. a feed on a chain listed first)
        reason = quote_rejection(quote=quote, token=tokens[quote.token_id], now=now)
        if reason is not None:
            result.rejected.setdefault(quote.symbol, []).append(reason)
            continue
        row, created = asset_price_record(quote=quote)
        (result.stored if created else result.unchanged)[quote.symbol] = quote.source
        if created:
            stored_rows.append(row)
        del pending[quote.token_id]


def prices_backfill(*, symbols: Iterable[str] | None = None, days: int = 30) -> dict[str, int]:
    """Store CoinGecko's ``market_chart`` history for tokens with a CoinGecko id; returns new rows per symbol."""
    if not 1 <= days <= 365:
        raise InvalidInput("invalid_days", "days must be between 1 and 365.", {"days": days})
    client = CoinGeckoClient()
    created: dict[str, int] = {}
    for token in selectors.tokens_for_symbols(symbols).exclude(coingecko_id=""):
        chart = client.market_chart(token.coingecko_id, days=days)
        caps = {point[0]: point[1] for point in chart.get("market_caps") or [] if len(point) == 2}
        volumes = {point[0]: point[1] for point in chart.get("total_volumes") or [] if len(point) == 2}
        count = 0
        for point in chart.get("prices") or []:
            observed, price = (from_unix_ms(point[0]), to_decimal(point[1])) if len(point) == 2 else (None, None)
            if observed is None or price is None or price <= 0:
                continue
            quote = Quote(
                token_id=token.pk,
                symbol=token.symbol,
                price_usd=price,
                observed_at=observed,
                source=COINGECKO,
                market_cap=to_decimal(caps.get(point[0])),
                volume_24h=to_decimal(volumes.get(point[0])),
            )
            count += asset_price_record(quote=quote)[1]
        created[token.symbol] = count
    return created
