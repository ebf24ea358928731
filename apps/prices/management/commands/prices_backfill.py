"""Fill AssetPrice with CoinGecko ``market_chart`` history (idempotent: points already stored are skipped)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.prices import selectors, services
from engipay.api.errors import ApplicationError


class Command(BaseCommand):
    help = "Backfill USD price history from CoinGecko /coins/{id}/market_chart for tokens with a CoinGecko id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=30, help="How far back (1-365; CoinGecko picks granularity).")
        parser.add_argument("--symbols", default="", help="Comma-separated symbols (default: every active token).")

    def handle(self, *args, days: int, symbols: str, **options) -> None:
        try:
            created = services.prices_backfill(symbols=selectors.parse_symbols(symbols), days=days)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for symbol, count in created.items():
            self.stdout.write(f"{symbol}: {count} new price(s)")
