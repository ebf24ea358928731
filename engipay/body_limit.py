"""Request body limits enforced in front of Django, before a byte of the body is stored anywhere.

Django's ASGI handler reads the whole request body (into memory, then a temporary file) before any view runs, so a
view's own size check comes too late for an unauthenticated endpoint: a 5 GB chunked POST would be written to /tmp
first. For the registered path prefixes (the longest matching prefix wins), :class:`BodyLimit` answers 413
``payload_too_large`` in the project's error shape without calling the application when the declared
``Content-Length`` is over the limit, or else once the body it reads (``more_body`` chunks, at most limit + 1 bytes)
goes over it. A body within the limit is handed on as one ``http.request`` message; every other request, and every
other scope type (websocket, lifespan), goes to the application untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engipay.api.errors import error_body

Limit = int | Callable[[], int]


def _declared_length(scope: dict[str, Any]) -> int | None:
    """The largest well-formed Content-Length (the server refuses conflicting ones; we only need an upper bound)."""
    declared = None
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-length" and value.strip().isdigit():
            declared = max(declared or 0, int(value.strip()))
    return declared


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        error_body(
            "payload_too_large",
            f"Request bodies to this endpoint are at most {limit} bytes.",
            {"max": limit},
        )
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        # The rest of the body is not read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: ``limits`` maps path prefixes to a byte limit, or to a callable read on every request (so a
    setting changed at run time, or in a test, applies)."""

    def __init__(self, app: Any, *, limits: dict[str, Limit]) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, scope: dict[str, Any]) -> int | None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # as Django strips the script prefix before routing
            path = path[len(root) :]
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit() if callable(limit) else limit
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = self.limit_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client left before the end of its body: no one to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:  # after the body the application only listens for the client's disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
