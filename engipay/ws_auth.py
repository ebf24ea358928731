"""Websocket authentication with the API's access token.

Either ``?token=<access>`` in the URL (checked before the handshake is accepted: a bad one is refused with close
code 4401), or, to keep tokens out of URLs and logs, a first message ``{"type": "auth", "token": "<access>"}``
within ``WEBSOCKET_AUTH_TIMEOUT_SECONDS``; a missing or bad one closes the socket with 4401. That second way
needs the handshake accepted first, so an unauthenticated socket lives for at most that timeout and receives
nothing but the refusal. An authenticated socket closes (4401) when its token expires or the user's tokens are
revoked (password reset, deactivation).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _authenticate(raw: str) -> tuple[Any, int] | None:
    """(user, token expiry as a unix time), or None when the token is not valid."""
    from apps.accounts.authentication import user_and_expiry_for_token

    return user_and_expiry_for_token(raw)


class QueryTokenAuthMiddleware:
    """Puts ``user`` in the scope from ``?token=``; ``token_invalid`` marks a token that was sent but is bad."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        params = parse_qs(scope.get("query_string", b"").decode())
        token = (params.get("token") or [""])[0]
        scope = dict(scope, user=AnonymousUser(), token_invalid=False, token_expires_at=None)
        if token:
            found = await _authenticate(token)
            scope["token_invalid"] = found is None
            if found is not None:
                scope["user"], scope["token_expires_at"] = found
        return await self.app(scope, receive, send)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message, "details": {}}}


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """Base consumer: authenticated before it does anything; subclasses implement ``on_authenticated``."""

    user: Any = None
    _timers: list[asyncio.TimerHandle]
    _session_group: str | None = None

    async def connect(self) -> None:
        self._timers = []
        if self.scope.get("token_invalid"):
            await self.close(code=CLOSE_UNAUTHENTICATED)  # before accept(): the handshake itself is refused
            return
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self._authenticated(user, self.scope["token_expires_at"])
        else:
            self._close_later(settings.WEBSOCKET_AUTH_TIMEOUT_SECONDS, "authentication_timeout")

    def _close_later(self, delay: float, reason: str) -> None:
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(max(delay, 0), lambda: asyncio.ensure_future(self._refuse(reason))))

    async def _authenticated(self, user: Any, expires_at: int) -> None:
        from apps.notifications.services import session_group

        for timer in self._timers:
            timer.cancel()
        self._timers = []
        self.user = user
        self._session_group = session_group(user.pk)
        await self.channel_layer.group_add(self._session_group, self.channel_name)
        self._close_later(expires_at - time.time(), "token_expired")
        await self.on_authenticated()
        await self.send_json({"type": "authenticated", "user_id": str(user.pk)})

    async def _refuse(self, reason: str) -> None:
        await self.send_json(_error(reason, "Not authenticated."))
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self._refuse("session_revoked")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        try:
            content = json.loads(text_data if text_data is not None else (bytes_data or b"").decode())
        except (json.JSONDecodeError, UnicodeDecodeError):
            await self.send_json(_error("malformed_message", "Messages are JSON objects."))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is not None:
            await self.on_message(content)
            return
        token = content.get("token") if isinstance(content, dict) and content.get("type") == "auth" else None
        found = await _authenticate(token) if isinstance(token, str) and token else None
        if found is None:
            await self._refuse("authentication_failed")
            return
        await self._authenticated(*found)

    async def on_authenticated(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def on_message(self, content: Any) -> None:
        await self.send_json(_error("unsupported_message", "This socket takes no messages."))

    async def disconnect(self, code: int) -> None:
        for timer in getattr(self, "_timers", []):
            timer.cancel()
        if self._session_group:
            await self.channel_layer.group_discard(self._session_group, self.channel_name)
