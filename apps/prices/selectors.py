"""Reads of stored prices, for the API and for other apps (portfolio, analytics).

``prices_current`` is the interface other apps use; it never calls a source, it only reads ``AssetPrice``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from apps.chains.models import Token
from engipay.api.errors import InvalidInput

from .models import AssetPrice

# How far before "24 hours ago" / "7 days ago" a stored price may be and still serve as the reference.
CHANGE_24H_TOLERANCE = timedelta(hours=2)
CHANGE_7D_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True)
class PriceQuote:
    """The latest stored USD price of one token. ``stale``: older than the token's ``price_stale_after_seconds``."""

    symbol: str
    usd: Decimal
    change_24h: Decimal | None
    change_7d: Decimal | None
    market_cap: Decimal | None
    volume_24h: Decimal | None
    source: str
    last_updated: datetime
    stale: bool


def percent_change(*, old: Decimal, new: Decimal) -> Decimal | None:
    if old <= 0:
        return None
    return (new - old) / old * 100


def price_at_or_before(*, token_id: int, moment: datetime, tolerance: timedelta) -> AssetPrice | None:
    """The last stored price at or before ``moment``, if one exists no earlier than ``moment - tolerance``."""
    return (
        AssetPrice.objects.filter(token_id=token_id, observed_at__lte=moment, observed_at__gte=moment - tolerance)
        .order_by("-observed_at", "-id")
        .first()
    )


def price_change(
    *, token_id: int, price: Decimal, at: datetime, ago: timedelta, tolerance: timedelta
) -> Decimal | None:
    reference = price_at_or_before(token_id=token_id, moment=at - ago, tolerance=tolerance)
    return None if reference is None else percent_change(old=reference.price_usd, new=price)


def tokens_for_symbols(symbols: Iterable[str] | None):
    qs = Token.objects.filter(is_active=True).order_by("symbol")
    if isinstance(symbols, str):  # one symbol, not an iterable of its letters
        symbols = [symbols]
    if symbols is not None:
        qs = qs.filter(symbol__in={s.upper() for s in symbols})
    return qs


def prices_current(symbols: Iterable[str] | None = None) -> dict[str, PriceQuote]:
    """Latest stored price per active token (all of them, or those in ``symbols``, case-insensitive).

    Tokens with no stored price are absent from the result; unknown symbols are ignored.
    """
    latest = AssetPrice.objects.filter(token=OuterRef("pk")).order_by("-observed_at", "-id").values("id")[:1]
    tokens = list(tokens_for_symbols(symbols).annotate(latest_price_id=Subquery(latest)))
    rows = AssetPrice.objects.in_bulk([t.latest_price_id for t in tokens if t.latest_price_id is not None])
    now = timezone.now()
    quotes: dict[str, PriceQuote] = {}
    for token in tokens:
        row = rows.get(token.latest_price_id)
        if row is None:
            continue
        quotes[token.symbol] = PriceQuote(
            symbol=token.symbol,
            usd=row.price_usd,
            change_24h=row.change_24h,
            change_7d=price_change(
                token_id=token.pk,
                price=row.price_usd,
                at=row.observed_at,
                ago=timedelta(days=7),
                tolerance=CHANGE_7D_TOLERANCE,
            ),
            market_cap=row.market_cap,
            volume_24h=row.volume_24h,
            source=row.source,
            last_updated=row.observed_at,
            stale=now - row.observed_at > timedelta(seconds=token.price_stale_after_seconds),
        )
    return quotes


# --- history -------------------------------------------------------------------------------------------------

PERIODS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
INTERVALS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class HistoryPoint:
    timestamp: datetime  # start of the bucket (UTC, aligned to the interval)
    price: Decimal  # the last stored price observed in the bucket
    volume: Decimal | None  # the 24h volume reported with that price (null: the source gives none)


def bucket_start(moment: datetime, interval: timedelta) -> datetime:
    return _EPOCH + ((moment - _EPOCH) // interval) * interval


def history_point_count(*, period: timedelta, interval: timedelta) -> int:
    return -(-period // interval)


def price_history(*, token: Token, period: timedelta, interval: timedelta) -> list[HistoryPoint]:
    """The last stored price in each ``interval`` bucket over the past ``period``; empty buckets are left out."""
    rows = AssetPrice.objects.filter(token=token, observed_at__gt=timezone.now() - period)
    # The database reduces the rows to the latest observation per hour/day (or minute, for 5m buckets), so a year
    # of minute prices is never loaded; those few maxima are then merged into the requested buckets.
    unit = TruncDay if interval >= timedelta(days=1) else TruncHour if interval >= timedelta(hours=1) else TruncMinute
    latest_per_unit = (
        rows.order_by().annotate(unit=unit("observed_at")).values("unit").annotate(last=Max("observed_at"))
    )
    latest_per_bucket: dict[datetime, datetime] = {}
    for group in latest_per_unit:
        bucket = bucket_start(group["last"], interval)
        latest_per_bucket[bucket] = max(group["last"], latest_per_bucket.get(bucket, group["last"]))
    chosen: dict[datetime, AssetPrice] = {}
    # Several sources may share a timestamp: the row stored last wins, deterministically.
    for row in rows.filter(observed_at__in=list(latest_per_bucket.values())).order_by("observed_at", "id"):
        chosen[bucket_start(row.observed_at, interval)] = row
    return [
        HistoryPoint(timestamp=bucket, price=row.price_usd, volume=row.volume_24h)
        for bucket, row in sorted(chosen.items())
    ]


# --- API reads -----------------------------------------------------------------------------------------------

MAX_SYMBOLS = 100


def parse_symbols(raw: str | None) -> list[str] | None:
    """``"eth, BTC"`` -> ``["ETH", "BTC"]``; nothing given -> None (every active token)."""
    if raw is None or not raw.strip():
        return None
    return list(dict.fromkeys(part.strip().upper() for part in raw.split(",") if part.strip()))


def _unknown_symbols_error(unknown: list[str]) -> InvalidInput:
    known = list(Token.objects.filter(is_active=True).order_by("symbol").values_list("symbol", flat=True))
    return InvalidInput(
        "unknown_symbol", f"Unknown symbol(s): {', '.join(unknown)}.", {"unknown": unknown, "known": known}
    )


def price_board(*, symbols: list[str] | None) -> tuple[dict[str, PriceQuote], list[str]]:
    """Current quotes and the symbols with no stored price; an unknown symbol is a 400 listing the known ones."""
    if symbols is not None and len(symbols) > MAX_SYMBOLS:
        raise InvalidInput(
            "too_many_symbols", f"At most {MAX_SYMBOLS} symbols per request.", {"max_symbols": MAX_SYMBOLS}
        )
    if symbols is not None:
        known = set(tokens_for_symbols(symbols).values_list("symbol", flat=True))
        unknown = [s for s in symbols if s not in known]
        if unknown:
            raise _unknown_symbols_error(unknown)
    quotes = prices_current(symbols)
    wanted = symbols if symbols is not None else list(tokens_for_symbols(None).values_list("symbol", flat=True))
    return quotes, [symbol for symbol in wanted if symbol not in quotes]


def token_get_by_symbol(*, symbol: str) -> Token:
    token = tokens_for_symbols([symbol]).first()
    if token is None:
        raise _unknown_symbols_error([symbol.upper()])
    return token


def default_interval(period: str) -> str:
    """The finest interval whose point count stays within PRICE_HISTORY_MAX_POINTS."""
    for name, interval in INTERVALS.items():
        if history_point_count(period=PERIODS[period], interval=interval) <= settings.PRICE_HISTORY_MAX_POINTS:
            return name
    return "1d"


def history_window(*, period: str, interval: str | None) -> tuple[str, str]:
    """Check ``period``/``interval`` (None: the default for the period); 400 naming the allowed values."""
    bad = {}
    if period not in PERIODS:
        bad["period"] = {"value": period, "allowed": list(PERIODS)}
    if interval is not None and interval not in INTERVALS:
        bad["interval"] = {"value": interval, "allowed": list(INTERVALS)}
    if bad:
        message = " ".join(f"{field} must be one of {', '.join(info['allowed'])}." for field, info in bad.items())
        raise InvalidInput("invalid_input", message, bad)
    interval = interval or default_interval(period)
    points = history_point_count(period=PERIODS[period], interval=INTERVALS[interval])
    limit = settings.PRICE_HISTORY_MAX_POINTS
    if points > limit:
        fitting = [
            name
            for name, size in INTERVALS.items()
            if history_point_count(period=PERIODS[period], interval=size) <= limit
        ]
        raise InvalidInput(
            "too_many_points",
            f"{period} at {interval} is {points} points; at most {limit}. Use a coarser interval.",
            {"points": points, "max_points": limit, "allowed_intervals": fitting},
        )
    return period, interval
