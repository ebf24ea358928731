"""Websocket authentication with the API's access token.

Either ``?token=<access>`` in the URL (checked before the handshake is accepted: a bad one is refused with close
code 4401), or, to keep tokens out of URLs and logs, a first message ``{"type": "auth", "token": "<access>"}``
within ``WEBSOCKET_AUTH_TIMEOUT_SECONDS``; a missing or bad one closes the socket with 4401.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _user_for_token(raw: str):
    from apps.accounts.authentication import user_for_token

    return user_for_token(raw)


class QueryTokenAuthMiddleware:
    """Puts ``user`` in the scope from ``?token=``; ``token_invalid`` marks a token that was sent but is bad."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        params = parse_qs(scope.get("query_string", b"").decode())
        token = (params.get("token") or [""])[0]
        scope = dict(scope, user=AnonymousUser(), token_invalid=False)
        if token:
            user = await _user_for_token(token)
            scope["user"] = user or AnonymousUser()
            scope["token_invalid"] = user is None
        return await self.app(scope, receive, send)


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """Base consumer: authenticated before it does anything; subclasses implement ``on_authenticated``."""

    user: Any = None

    async def connect(self) -> None:
        if self.scope.get("token_invalid"):
            await self.close(code=CLOSE_UNAUTHENTICATED)  # before accept(): the handshake itself is refused
            return
        user = self.scope.get("user")
        await self.accept()
        if user is not None and user.is_authenticated:
            await self._authenticated(user)
        else:
            self._auth_timer = asyncio.get_running_loop().call_later(
                settings.WEBSOCKET_AUTH_TIMEOUT_SECONDS,
                lambda: asyncio.ensure_future(self._refuse("authentication_timeout")),
            )

    async def _authenticated(self, user: Any) -> None:
        self.user = user
        await self.on_authenticated()
        await self.send_json({"type": "authenticated", "user_id": str(user.pk)})

    async def _refuse(self, reason: str) -> None:
        if self.user is None:
            await self.send_json(
                {"type": "error", "error": {"code": reason, "message": "Not authenticated.", "details": {}}}
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is None:
            token = content.get("token") if isinstance(content, dict) and content.get("type") == "auth" else None
            user = await _user_for_token(token) if isinstance(token, str) and token else None
            if user is None:
                await self._refuse("authentication_failed")
                return
            self._auth_timer.cancel()
            await self._authenticated(user)
            return
        await self.on_message(content)

    async def on_authenticated(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def on_message(self, content: Any) -> None:
        await self.send_json(
            {
                "type": "error",
                "error": {"code": "unsupported_message", "message": "This socket takes no messages.", "details": {}},
            }
        )

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "_auth_timer", None)
        if timer is not None:
            timer.cancel()
