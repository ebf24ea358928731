"""Celery: Redis broker, late acks, JSON only, bounded time limits, beat schedule kept here."""

from __future__ import annotations

from .env import env_int, env_str
from .services import CELERY_BROKER_URL

CELERY_BROKER_URL = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=2)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "engipay")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged task after this long; it must exceed the hard time limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(3600, CELERY_TASK_TIME_LIMIT * 2)}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "accounts-sign-in-nonce-cleanup": {
        "task": "accounts.sign_in_nonce_cleanup",
        "schedule": env_int("NONCE_CLEANUP_EVERY_SECONDS", 900, minimum=1),
    },
}
