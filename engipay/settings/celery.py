"""Celery: Redis broker, late acks, JSON only, bounded time limits, beat schedule kept here."""

from __future__ import annotations

from .env import env_int, env_str
from .escrow import ESCROW_INDEX_EVERY_SECONDS
from .kyc import AML_SDN_RELOAD_MINUTES
from .notifications import NOTIFY_SWEEP_EVERY_SECONDS, WEBHOOK_SWEEP_EVERY_SECONDS
from .prices import PRICE_INGEST_EVERY_SECONDS, PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS
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
    # Safety net behind `chain_tracker`: every open transaction, even if no tracker runs.
    "transactions-refresh-open": {
        "task": "transactions.transactions_refresh_open",
        "schedule": env_int("TX_REFRESH_EVERY_SECONDS", 60, minimum=5),
    },
    # Prices from Chainlink feeds and CoinGecko into AssetPrice (apps/prices); a missed tick is just dropped.
    "prices-ingest": {
        "task": "prices.ingest",
        "schedule": PRICE_INGEST_EVERY_SECONDS,
        "options": {"expires": PRICE_INGEST_EVERY_SECONDS},
    },
    # DEMO CHAIN ONLY: moves the local anvil demo feeds (chain id 31337); does nothing on any other chain.
    "prices-local-feeds-move": {
        "task": "prices.local_feeds_move",
        "schedule": PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS,
        "options": {"expires": PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS},
    },
    # The OFAC SDN file at AML_SDN_PATH, imported again when its bytes change (apps/kyc/services/sanctions.py).
    "kyc-sanctions-reload": {
        "task": "kyc.sanctions_reload",
        "schedule": AML_SDN_RELOAD_MINUTES * 60,
        "options": {"expires": AML_SDN_RELOAD_MINUTES * 60},
    },
    # Identity documents of decided submissions past KYC_DOCUMENT_RETENTION_DAYS are deleted (decisions stay).
    "kyc-documents-purge": {"task": "kyc.documents_purge", "schedule": 6 * 3600},
    # Vendor submissions whose upload never finished (worker lost, vendor down past the retries) are queued again.
    "kyc-provider-sweep": {"task": "kyc.provider_sweep", "schedule": 600, "options": {"expires": 600}},
    # Email / push / SMS deliveries that are due (quiet hours over) or whose task was lost are queued again.
    "notifications-deliveries-sweep": {
        "task": "notifications.deliveries_sweep",
        "schedule": NOTIFY_SWEEP_EVERY_SECONDS,
        "options": {"expires": NOTIFY_SWEEP_EVERY_SECONDS},
    },
    # Escrow contract events into Escrow rows on every deployment; the chain tracker also runs it on each new head.
    "escrow-index": {
        "task": "escrow.index",
        "schedule": ESCROW_INDEX_EVERY_SECONDS,
        "options": {"expires": ESCROW_INDEX_EVERY_SECONDS},
    },
    # Parties of pending escrows past their expiry (chain time) are told the refund can be claimed, once.
    "escrow-expiry-notify": {"task": "escrow.expiry_notify", "schedule": 60, "options": {"expires": 60}},
    # Inbound webhook deliveries older than WEBHOOK_RETENTION_DAYS are deleted.
    "webhooks-deliveries-purge": {"task": "webhooks.deliveries_purge", "schedule": 6 * 3600},
    # Accepted webhook deliveries whose processing task was lost (broker down when they arrived) are queued again.
    "webhooks-deliveries-sweep": {
        "task": "webhooks.deliveries_sweep",
        "schedule": WEBHOOK_SWEEP_EVERY_SECONDS,
        "options": {"expires": WEBHOOK_SWEEP_EVERY_SECONDS},
    },
}
