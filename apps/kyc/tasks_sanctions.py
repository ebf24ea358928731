"""Beat task ``kyc.sanctions_reload`` (engipay/settings/celery.py): imported by apps/kyc/tasks.py so the worker
registers it."""

from __future__ import annotations

from celery import shared_task

from apps.kyc.services import sanctions


@shared_task(name="kyc.sanctions_reload")
def sanctions_reload() -> bool:
    """Idempotent: an unchanged file (same sha256) changes nothing. A failed run is redone by the next beat tick,
    so there is no retry. True when a new list became current."""
    return sanctions.sanctions_reload()
