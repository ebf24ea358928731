from __future__ import annotations

from typing import Any

from engipay.ws_auth import AuthenticatedJsonConsumer

from .services import user_group


class NotificationConsumer(AuthenticatedJsonConsumer):
    """``/ws/notifications/``: every notification of the signed-in user, as it is created."""

    group: str | None = None

    async def on_authenticated(self) -> None:
        self.group = user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def notification_created(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "notification", "notification": event["payload"]})

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
