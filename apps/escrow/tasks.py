"""Escrow tasks: the indexer's beat safety net (the chain tracker runs it on every head too) and the expiry
notices."""

from __future__ import annotations

from celery import Task, shared_task

from apps.escrow.services import indexer
from engipay.api.errors import ChainUnavailable


@shared_task(
    bind=True,
    name="escrow.index",
    autoretry_for=(ChainUnavailable,),
    retry_backoff=5,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def escrow_index(self: Task, network: str | None = None) -> int:
    """Index one network (retried while its node is down), or every deployment (a down node is skipped: beat runs
    this again within ESCROW_INDEX_EVERY_SECONDS). Returns the number of events stored."""
    if network is None:
        return sum(result.events for result in indexer.escrow_index_all())
    return indexer.escrow_index(network=network).events


@shared_task(name="escrow.expiry_notify")
def escrows_expiry_notify() -> int:
    """Notify the parties of pending escrows that expired (chain time); idempotent."""
    return indexer.escrows_expiry_notify()
