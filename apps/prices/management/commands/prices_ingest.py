"""Run one price ingestion now (what the `prices.ingest` beat task does every PRICE_INGEST_EVERY_SECONDS)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.prices import selectors, services


class Command(BaseCommand):
    help = "Ingest current prices from the configured sources once and print what happened."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", default="", help="Comma-separated symbols (default: every active token).")

    def handle(self, *args, symbols: str, **options) -> None:
        result = services.prices_ingest(symbols=selectors.parse_symbols(symbols))
        self.stdout.write(json.dumps(result.as_dict(), indent=1, sort_keys=True))
