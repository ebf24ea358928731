"""Sending submissions to the verification provider (apps/kyc/services/providers)."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from apps.kyc.models import KycSubmission
from apps.kyc.services import providers
from engipay.api.errors import UpstreamUnavailable

# A submission the vendor has not been asked to check this long after it was made is queued again by the sweep.
SWEEP_AFTER = timedelta(minutes=15)


@shared_task(
    bind=True,
    name="kyc.provider_submit",
    autoretry_for=(UpstreamUnavailable,),
    dont_autoretry_for=(providers.ProviderNotConfigured,),  # the sweep sends it once the settings are there
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,
)
def provider_submit(self: Task, submission_id: str) -> str | None:
    """Create the applicant, upload the documents, request the check. Idempotent: each step done is recorded on
    the submission, and an applicant that already exists for the user (409) is looked up, not created again.
    A vendor that is down or slow is retried with backoff (about 8 hours in all); the submission stays pending."""
    submission = providers.kyc_provider_submit(submission_id=submission_id)
    return submission.status if submission is not None else None


@shared_task(name="kyc.provider_sweep")
def provider_sweep() -> int:
    """Safety net (beat): open vendor submissions never sent in full (the queue was down at submit time, or the
    retries ran out) are queued again. Returns how many."""
    stuck = (
        KycSubmission.objects.filter(status__in=KycSubmission.OPEN, created_at__lt=timezone.now() - SWEEP_AFTER)
        .exclude(provider=KycSubmission.Provider.MANUAL)
        .filter(provider_result__check_requested_at__isnull=True)
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
    ids = list(stuck)
    for submission_id in ids:
        provider_submit.delay(submission_id)
    return len(ids)
