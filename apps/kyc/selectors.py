"""Reads of the user's own KYC state (scoped to the caller)."""

from __future__ import annotations

from apps.kyc.models import KycSubmission, Verification


def kyc_submission_latest_for_user(*, user) -> KycSubmission | None:
    return KycSubmission.objects.filter(user=user).order_by("-created_at").first()


def kyc_verification_for_user(*, user) -> Verification | None:
    return Verification.objects.filter(user=user).first()
