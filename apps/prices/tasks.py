"""Beat tasks: price ingestion, and (demo chain only) moving the local demo feeds."""

from __future__ import annotations

from celery import shared_task

from apps.prices import demo_feeds, services


@shared_task(name="prices.ingest")
def prices_ingest(*, symbols: list[str] | None = None) -> dict:
    """Idempotent: an observation already stored is not stored again. A failed run is simply redone by the next
    beat tick, so there is no retry here (it would only pile up behind the schedule)."""
    return services.prices_ingest(symbols=symbols).as_dict()


@shared_task(name="prices.local_feeds_move")
def prices_local_feeds_move() -> dict[str, str]:
    """DEMO CHAIN ONLY (chain id 31337): a random walk of the demo feeds; does nothing on any other chain."""
    return {symbol: str(price) for symbol, price in demo_feeds.demo_feeds_move().items()}
