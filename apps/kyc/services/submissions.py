"""Identity submissions (API guide section 7): one open submission per user, resubmission after a rejection that
allows it, the status the user sees and the estimate of when a decision comes."""

from __future__ import annotations

import logging
import statistics
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, Level, Verification
from engipay.api.errors import InvalidInput, StateConflict

from .audit import kyc_audit_record
from .documents import kyc_documents_prepare, kyc_documents_store

logger = logging.getLogger(__name__)

MINIMUM_AGE_YEARS = 18
MAXIMUM_AGE_YEARS = 120
# Reasons a reviewer (or the vendor) gives; the user reads ``message``. ``final`` reasons allow no new submission.
REJECT_REASONS: dict[str, dict[str, Any]] = {
    "document_unreadable": {
        "label": "Document unreadable (blur, glare, cropped)",
        "message": "We could not read your document. Take a sharp photo of the whole document, without glare.",
        "final": False,
    },
    "document_expired": {
        "label": "Document expired",
        "message": "Your document has expired. Please submit a valid document.",
        "final": False,
    },
    "document_type_unsupported": {
        "label": "Document type not accepted",
        "message": "This kind of document is not accepted. Use a passport, national ID, driver's licence or "
        "residence permit.",
        "final": False,
    },
    "selfie_mismatch": {
        "label": "Selfie does not match the document",
        "message": "Your selfie does not clearly match your document photo. Take a new selfie facing the camera "
        "in good light.",
        "final": False,
    },
    "personal_info_mismatch": {
        "label": "Personal info does not match the document",
        "message": "The name or date of birth you typed does not match your document. Check them and submit again.",
        "final": False,
    },
    "proof_of_address_invalid": {
        "label": "Proof of address invalid or older than 3 months",
        "message": "Your proof of address must show your name and address and be less than 3 months old.",
        "final": False,
    },
    "underage": {
        "label": "Under the minimum age",
        "message": "You must be at least 18 years old to verify your identity.",
        "final": True,
    },
    "suspected_fraud": {
        "label": "Suspected forgery or fraud",
        "message": "We cannot verify your identity. Please contact support.",
        "final": True,
    },
    "other": {
        "label": "Other (explain in the message)",
        "message": "We could not verify your identity; see the reviewer's message.",
        "final": False,
    },
}

# API field → KycDocument kind.
DOCUMENT_FIELDS = {
    "document_image": KycDocument.Kind.DOCUMENT,
    "selfie_image": KycDocument.Kind.SELFIE,
    "proof_of_address": KycDocument.Kind.PROOF_OF_ADDRESS,
}
LEVEL_ORDER = [Level.TIER_0, Level.TIER_1, Level.TIER_2]


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level)


def required_documents(*, document_type: str, level: str) -> list[str]:
    """What a level asks for: tier_1 an identity document and a selfie, tier_2 a proof of address too."""
    documents = [document_type, "selfie"]
    if level == Level.TIER_2:
        documents.append("proof_of_address")
    return documents


def _check_personal_info(personal_info: dict[str, Any], *, today: date) -> dict[str, str]:
    born = personal_info["date_of_birth"]
    if born > today:
        raise InvalidInput("invalid_date_of_birth", "The date of birth is in the future.", {"field": "date_of_birth"})
    if born.year < today.year - MAXIMUM_AGE_YEARS:
        raise InvalidInput(
            "invalid_date_of_birth",
            f"A date of birth more than {MAXIMUM_AGE_YEARS} years ago is not plausible.",
            {"field": "date_of_birth"},
        )
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years < MINIMUM_AGE_YEARS:
        raise InvalidInput(
            "underage",
            f"You must be at least {MINIMUM_AGE_YEARS} years old to verify your identity.",
            {"field": "date_of_birth"},
        )
    return {
        "full_name": personal_info["full_name"].strip(),
        "date_of_birth": born.isoformat(),
        "address": personal_info["address"].strip(),
    }


def _resubmission_allowed(user) -> None:
    latest = KycSubmission.objects.filter(user=user).order_by("-created_at").first()
    if latest is None:
        return
    if latest.is_open:
        raise StateConflict(
            "submission_open",
            "Your identity verification is already being processed; wait for its result.",
            {"kyc_id": latest.id, "status": latest.status},
        )
    if rejection_is_final(latest):
        raise StateConflict(
            "resubmission_not_allowed", "This verification cannot be retried. Please contact support.", {}
        )


def rejection_is_final(submission: KycSubmission) -> bool:
    """A rejection that allows no new submission: a final reason, or the vendor's own FINAL verdict."""
    if submission.status != KycSubmission.Status.REJECTED:
        return False
    vendor_review = (submission.provider_result or {}).get("review") or {}
    if vendor_review.get("review_reject_type") == "FINAL":
        return True
    return any(REJECT_REASONS.get(code, {}).get("final") for code in submission.reject_reasons)


def kyc_submission_create(
    *,
    user,
    document_type: str,
    personal_info: dict[str, Any],
    files: dict[str, Any],
    ip_address: str | None = None,
) -> KycSubmission:
    """Validate everything (documents, personal info, state) before storing anything; then store the submission
    with its encrypted documents in one transaction. ``files`` maps API fields to base64 strings or uploads."""
    info = _check_personal_info(personal_info, today=timezone.now().date())
    level = Level.TIER_2 if files.get("proof_of_address") else Level.TIER_1
    current = Verification.objects.filter(user=user).first()
    if current is not None and level_rank(current.level) >= level_rank(level):
        raise StateConflict(
            "already_verified",
            f"Your identity is verified at {current.level} already.",
            {"verification_level": current.level},
        )
    _resubmission_allowed(user)
    prepared = kyc_documents_prepare(files={DOCUMENT_FIELDS[f]: v for f, v in files.items() if v})
    try:
        with transaction.atomic():
            type(user).objects.select_for_update().filter(pk=user.pk).first()  # one submit at a time per user
            _resubmission_allowed(user)
            submission = KycSubmission.objects.create(
                user=user,
                document_type=document_type,
                personal_info=info,
                requested_level=level,
                provider=settings.KYC_PROVIDER,
                needs_second_review=level == Level.TIER_2 and settings.KYC_FOUR_EYES_TIER_2,
            )
            kyc_documents_store(submission=submission, prepared=prepared)
            kyc_audit_record(
                action=KycAuditEvent.Action.SUBMITTED,
                actor=user,
                submission=submission,
                details={"requested_level": level, "document_type": document_type},
                ip_address=ip_address,
            )
            user_status_sync(user=user, status=KycSubmission.Status.PENDING)
            if submission.provider != KycSubmission.Provider.MANUAL:
                transaction.on_commit(lambda: _provider_dispatch(submission.pk))
    except IntegrityError:  # the one-open-submission constraint: a concurrent submit won
        raise StateConflict(
            "submission_open", "Your identity verification is already being processed; wait for its result."
        ) from None
    return submission


def _provider_dispatch(submission_id: str) -> None:
    from apps.kyc.tasks_provider import provider_submit

    try:
        provider_submit.delay(submission_id)
    except Exception:  # the submission is stored; the provider sweep retries it
        logger.exception("Could not queue the provider upload of %s", submission_id)


def user_status_sync(*, user, status: str) -> None:
    """Mirror the latest submission's status on the user (the profile API shows ``kyc_status``)."""
    type(user).objects.filter(pk=user.pk).update(kyc_status=status)
    user.kyc_status = status


def estimated_completion(*, submission: KycSubmission) -> datetime:
    """When a decision can be expected: the median time from submission to decision of the last 50 decided
    submissions of the same provider (the review SLA while fewer than 5 exist), never later than the SLA."""
    sla = timedelta(hours=settings.KYC_REVIEW_SLA_HOURS)
    decided = list(
        KycSubmission.objects.filter(decided_at__isnull=False, provider=submission.provider)
        .order_by("-decided_at")
        .values_list("created_at", "decided_at")[:50]
    )
    typical = statistics.median(end - start for start, end in decided) if len(decided) >= 5 else sla
    return submission.created_at + min(typical, sla)


def reject_reason_messages(codes: list[str]) -> list[dict[str, str]]:
    return [{"code": code, "message": REJECT_REASONS.get(code, REJECT_REASONS["other"])["message"]} for code in codes]
