"""KYC beat and worker tasks (schedule in engipay/settings/celery.py)."""

from __future__ import annotations

from celery import shared_task

from apps.kyc.services import documents
from apps.kyc.tasks_provider import provider_submit, provider_sweep
from apps.kyc.tasks_sanctions import sanctions_reload

__all__ = ["kyc_documents_purge", "provider_submit", "provider_sweep", "sanctions_reload"]


@shared_task(name="kyc.documents_purge")
def kyc_documents_purge() -> int:
    """Idempotent: purged submissions are skipped, so a failed run is simply redone by the next beat tick (no
    retry). Returns how many submissions had their documents deleted."""
    return documents.kyc_documents_purge()
