"""Channels: the Redis channel layer shared by web processes and workers."""

from __future__ import annotations

from .env import env_int
from .services import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis blocks up to 5 s on BZPOPMIN waiting for a socket's next message; redis-py 8's default
        # 5 s read timeout would sometimes fire first and crash an idle socket's consumer. Give the read room.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
            "prefix": "engipay:ws",
            "capacity": 500,
            "expiry": 60,
        },
    }
}
WEBSOCKET_AUTH_TIMEOUT_SECONDS = env_int("WEBSOCKET_AUTH_TIMEOUT_SECONDS", 10, minimum=1)
