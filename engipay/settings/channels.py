"""Channels: the Redis channel layer shared by web processes and workers."""

from __future__ import annotations

from .env import env_int
from .services import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": "engipay:ws", "capacity": 500, "expiry": 60},
    }
}
WEBSOCKET_AUTH_TIMEOUT_SECONDS = env_int("WEBSOCKET_AUTH_TIMEOUT_SECONDS", 10, minimum=1)
