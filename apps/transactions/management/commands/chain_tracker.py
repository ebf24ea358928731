"""``manage.py chain_tracker``: follow the head of every configured chain and move transactions to finality.

Long-running (Procfile ``tracker``). ``--once`` sweeps once and exits; ``--max-seconds`` bounds a run.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser

from apps.chains.heads import HeadFollower
from apps.chains.registry import ChainConfig, chains
from apps.transactions import services


class Command(BaseCommand):
    help = "Follow new heads on every chain and refresh open transactions (websocket newHeads or polling)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", action="append", help="Only this chain key (repeatable).")
        parser.add_argument("--once", action="store_true", help="Refresh every open transaction once, then exit.")
        parser.add_argument("--max-seconds", type=float, default=None, help="Stop after this many seconds.")

    def handle(self, *args, network: list[str] | None, once: bool, max_seconds: float | None, **options) -> None:
        configs = [c for c in chains() if not network or c.key in network]
        if once:
            for config in configs:
                count = services.transactions_refresh_open(network=config.key)
                self.stdout.write(f"{config.key}: {count} open transaction(s) refreshed")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        threads = [
            threading.Thread(
                target=HeadFollower(config, stop, on_head=_refresher(config)).run,
                name=f"tracker-{config.key}",
                daemon=True,
            )
            for config in configs
        ]
        for thread in threads:
            thread.start()
        self.stdout.write(f"Tracking {', '.join(c.key for c in configs) or 'no chain'}", ending="\n")
        self.stdout.flush()
        stop.wait(max_seconds)
        stop.set()
        for thread in threads:
            thread.join(10)


def _refresher(config: ChainConfig):
    return lambda: services.transactions_refresh_open(network=config.key)
