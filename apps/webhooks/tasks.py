"""Processing of accepted webhook deliveries, the retention purge and the lost-task sweep."""

from __future__ import annotations

from celery import Task, shared_task

from apps.webhooks import services

MAX_RETRIES = 8


@shared_task(bind=True, name="webhooks.delivery_process", max_retries=MAX_RETRIES)
def delivery_process(self: Task, delivery_id: str) -> str | None:
    """Idempotent: a delivery that is not queued (or failed on a transient error) is left alone. A transient failure
    (a chain or provider down, the soft time limit, the database unavailable) is retried with exponential backoff
    and jitter, then given up (the row says so). If the retry cannot be sent, the sweep sends it once it is due."""
    try:
        delivery = services.webhook_delivery_process(delivery_id=delivery_id)
    except services.DeliveryRetryLater as exc:
        if self.request.retries >= MAX_RETRIES:
            services.webhook_delivery_give_up(delivery_id=delivery_id, reason=exc.reason)
            return "failed"
        raise self.retry(countdown=exc.countdown) from None
    return None if delivery is None else delivery.status


@shared_task(name="webhooks.deliveries_purge")
def deliveries_purge() -> int:
    """Beat: deliveries older than WEBHOOK_RETENTION_DAYS are deleted."""
    return services.webhook_deliveries_purge()


@shared_task(name="webhooks.deliveries_sweep")
def deliveries_sweep() -> int:
    """Beat: accepted deliveries whose processing task (or retry) was lost are queued again."""
    return services.webhook_deliveries_sweep()
