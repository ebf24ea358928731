from __future__ import annotations

from celery import Task, shared_task

from apps.transactions import services
from engipay.api.errors import ChainUnavailable


@shared_task(name="transactions.transactions_refresh_open")
def transactions_refresh_open(network: str | None = None) -> int:
    """Beat safety net behind chain_tracker: every open transaction, in pk order (a down chain is skipped)."""
    return services.transactions_refresh_open(network=network)


@shared_task(
    bind=True,
    name="transactions.transaction_refresh",
    autoretry_for=(ChainUnavailable,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def transaction_refresh(self: Task, transaction_id: str) -> str:
    return services.transaction_refresh_from_chain(transaction_id=transaction_id).status
