"""``manage.py chain_tracker``: follow the head of every configured chain and move transactions to finality; the
head hooks other apps registered (``apps.chains.heads``, e.g. the escrow indexer) run on every head too.

Long-running (Procfile ``tracker``). ``--once`` sweeps once and exits; ``--max-seconds`` bounds a run.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from django.core.management.base import BaseCommand, CommandParser

from apps.chains.heads import HeadFollower, head_hooks_run
from apps.chains.registry import ChainConfig, chains
from apps.transactions import services

logger = logging.getLogger(__name__)


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
                head_hooks_run(config.key)
                self.stdout.write(f"{config.key}: {count} open transaction(s) refreshed")
            return
        stop = threading.Event()
        # The handler only appends to a list: an Event.set() in a handler can deadlock on the Event's own lock when
        # the signal lands while the main thread holds it inside Event.wait() (seen as a tracker that ignored
        # SIGTERM until killed). The main thread polls the flag and sets the event itself.
        signalled: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: signalled.append(signum))
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
        until = None if max_seconds is None else time.monotonic() + max_seconds
        while not signalled and (until is None or time.monotonic() < until):
            time.sleep(0.1)
        stop.set()
        deadline = time.monotonic() + 10
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        # Our followers, or a thread one of them started (the websocket client's reader, an async_to_sync loop).
        stuck = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
        if stuck:
            # A refresh still waiting on the node or the database (or the websocket client's own reader thread)
            # must not keep a stopped tracker alive until it is killed: its open transaction rolls back with the
            # connection, and the next tracker's start-up sweep redoes the work (refreshes are idempotent).
            logger.warning("Stopping with %s still busy; exiting anyway", ", ".join(stuck))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _refresher(config: ChainConfig):
    def refresh() -> None:
        try:
            services.transactions_refresh_open(network=config.key)
        finally:
            head_hooks_run(config.key)  # other apps' work on the head (the escrow indexer); never raises

    return refresh
