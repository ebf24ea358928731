"""The head follower: one thread per configured chain (EVM, Starknet, Bitcoin) calls ``on_head`` on each new head.

New heads come from a websocket ``newHeads`` subscription where an EVM node offers one, and from polling the
chain client's head otherwise; ``on_head`` also runs every ``TX_TRACKER_SWEEP_SECONDS`` and once on start.
``manage.py chain_tracker`` (apps.transactions) runs one per chain with ``on_head`` refreshing that chain's open
transactions, then running the head hooks; nothing lives in memory, so a restart resumes where the last process
stopped.

Head hooks let a higher app react to new heads without this app importing it (STYLE.md section 1): the escrow
app registers its indexer in its ``AppConfig.ready()`` with ``head_hook_register``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import close_old_connections
from websockets.sync.client import connect

from apps.chains.clients import client_for, evm_rpc
from apps.chains.registry import ChainConfig
from engipay.api.errors import ChainUnavailable

logger = logging.getLogger(__name__)

HeadHook = Callable[[str], object]
_head_hooks: list[HeadHook] = []


def head_hook_register(hook: HeadHook) -> HeadHook:
    """Call ``hook(network_key)`` on every new head of a chain (usable as a decorator; registering the same
    function twice keeps one)."""
    if hook not in _head_hooks:
        _head_hooks.append(hook)
    return hook


def head_hooks_run(network: str) -> None:
    """Run every registered hook for ``network``, in registration order. A hook that fails is logged and the others
    still run: one app's trouble must not stop the follower."""
    for hook in list(_head_hooks):
        try:
            hook(network)
        except Exception:
            logger.exception("Head hook %s failed on %s", getattr(hook, "__qualname__", hook), network)


def websocket_url(config: ChainConfig) -> str | None:
    """The chain's ``ws_url``, else its first RPC URL with a websocket scheme (anvil and geth serve both on one
    port); None when websockets are turned off."""
    if not settings.TX_TRACKER_WEBSOCKET or config.kind != "evm":
        return None
    explicit = settings.CHAINS.get(config.key, {}).get("ws_url")
    if explicit:
        return explicit
    if not config.rpc_urls:
        return None
    parts = urlsplit(config.rpc_urls[0])
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme)) if scheme else None


class HeadFollower:
    # After a websocket failure, poll this many intervals before trying the websocket again.
    poll_rounds_before_ws_retry = 15

    def __init__(self, config: ChainConfig, stop: threading.Event, on_head: Callable[[], object]) -> None:
        self.config = config
        self.stop = stop
        self.on_head = on_head
        self.poll_seconds = settings.TX_TRACKER_POLL_SECONDS
        self.sweep_seconds = settings.TX_TRACKER_SWEEP_SECONDS
        self.last_refresh = 0.0

    def run(self) -> None:
        logger.info("Following %s", self.config.key)
        try:
            while not self.stop.is_set():
                url = websocket_url(self.config)
                if url is not None:
                    try:
                        self.follow_websocket(url)
                        continue
                    except Exception as exc:
                        logger.info("No newHeads subscription on %s (%r); polling", self.config.key, exc)
                self.poll(rounds=self.poll_rounds_before_ws_retry if url else None)
        finally:
            close_old_connections()

    def follow_websocket(self, url: str) -> None:
        with connect(url, open_timeout=5, close_timeout=1, max_size=2**22) as socket:
            socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
            reply = json.loads(socket.recv(timeout=5))
            if reply.get("error") or not reply.get("result"):
                raise ConnectionError(f"eth_subscribe refused: {reply.get('error')}")
            logger.info("Subscribed to newHeads on %s", self.config.key)
            self.refresh()  # whatever happened while we were not listening
            while not self.stop.is_set():
                try:
                    message = json.loads(socket.recv(timeout=min(1.0, self.sweep_seconds)))
                except TimeoutError:
                    if time.monotonic() - self.last_refresh >= self.sweep_seconds:
                        self.refresh()
                    continue
                if message.get("method") == "eth_subscription":
                    self.refresh()

    def poll(self, *, rounds: int | None) -> None:
        client, last_head, done = client_for(self.config), None, 0
        while not self.stop.is_set() and (rounds is None or done < rounds):
            done += 1
            try:
                if self.config.kind == "evm":
                    head = evm_rpc.qty(evm_rpc.rpc(client, "eth_blockNumber", []))  # lighter than a whole block
                else:
                    head = client.head().number
            except (ChainUnavailable, evm_rpc.NodeError) as exc:
                logger.warning("%s: %s", self.config.key, exc)
                head = None
            except Exception:
                # Whatever else goes wrong, the follower of this chain must keep following.
                logger.exception("%s: polling failed", self.config.key)
                head = None
            stale = time.monotonic() - self.last_refresh >= self.sweep_seconds
            if head is not None and (head != last_head or stale):
                last_head = head
                self.refresh()
            self.stop.wait(self.poll_seconds)

    def refresh(self) -> None:
        self.last_refresh = time.monotonic()
        close_old_connections()
        try:
            self.on_head()
        except Exception:
            # One bad row or a database hiccup must not stop the follower; the next head tries again.
            logger.exception("Refreshing transactions on %s failed", self.config.key)
