"""Start-up shared by every entry point (manage.py, ASGI, Celery)."""

from __future__ import annotations

import os


def prepare() -> None:
    """Start the embedded Redis when no REDIS_URL is configured (DESIGN.md section 6)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")
    from django.conf import settings

    if settings.REDIS_EMBEDDED:
        from engipay import embedded_redis

        embedded_redis.ensure(settings.EMBEDDED_REDIS_DIR)
