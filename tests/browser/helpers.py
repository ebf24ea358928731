"""Helpers for the browser tests against the real ASGI server."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import connect


class UserSocket:
    """A user's websocket on the ASGI server (the `websockets` sync client), authenticated with a first message."""

    def __init__(self, base: str, path: str, token: str) -> None:
        self.socket = connect(base.replace("http://", "ws://") + path, open_timeout=10)
        self.socket.send(json.dumps({"type": "auth", "token": token}))
        self.seen: list[dict[str, Any]] = []

    def send(self, **payload: Any) -> None:
        self.socket.send(json.dumps(payload))

    def wait_for(self, predicate, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching websocket message; got {self.seen}")
            try:
                event = json.loads(self.socket.recv(timeout=remaining))
            except TimeoutError:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def close(self) -> None:
        self.socket.close()
