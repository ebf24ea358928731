"""Processing of accepted webhook deliveries, the retention purge and the lost-task sweep."""

from __future__ import annotations

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from apps.webhooks import services
from engipay.api.errors import UpstreamUnavailable

MAX_RETRIES = 8


@shared_task(bind=True, name="webhooks.delivery_process", max_retries=MAX_RETRIES)
def delivery_process(self: Task, delivery_id: str) -> str | None:
    """Idempotent: a delivery that is not queued (or failed on a transient error) is left alone. A chain or
    provider that is down is retried with exponential backoff and jitter, then given up (the row says so)."""
    try:
        delivery = services.webhook_delivery_process(delivery_id=delivery_id)
    except UpstreamUnavailable as exc:
        if self.request.retries >= MAX_RETRIES:
            services.webhook_delivery_give_up(delivery_id=delivery_id, reason=exc.message)
            return "failed"
        countdown = get_exponential_backoff_interval(
            factor=5, retries=self.request.retries, maximum=300, full_jitter=True
        )
        raise self.retry(countdown=countdown) from None
    return None if delivery is None else delivery.status


@shared_task(name="webhooks.deliveries_purge")
def deliveries_purge() -> int:
    """Beat: deliveries older than WEBHOOK_RETENTION_DAYS are deleted."""
    return services.webhook_deliveries_purge()


@shared_task(name="webhooks.deliveries_sweep")
def deliveries_sweep() -> int:
    """Beat: accepted deliveries whose processing task was lost (broker down at enqueue time) are queued again."""
    return services.webhook_deliveries_sweep()
