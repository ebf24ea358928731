"""Reads for the user's own KYC state (scoped to the caller) and the reviewers' queue."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.kyc.models import KycSubmission, Verification


def kyc_submission_latest_for_user(*, user) -> KycSubmission | None:
    return KycSubmission.objects.filter(user=user).order_by("-created_at").first()


def kyc_verification_for_user(*, user) -> Verification | None:
    return Verification.objects.filter(user=user).first()


def kyc_review_queue() -> QuerySet[KycSubmission]:
    """Open submissions, the oldest first (the SLA runs from submission)."""
    return (
        KycSubmission.objects.filter(status__in=KycSubmission.OPEN)
        .select_related("user", "review_started_by", "first_approved_by")
        .order_by("created_at", "pk")
    )
