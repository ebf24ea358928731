"""Decisions on submissions, by reviewers in the admin or by the verification vendor (actor None). Every
transition is checked under a row lock (409 when illegal), written to the audit trail and told to the user."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.kyc.models import KycAuditEvent, KycSubmission, Level, Verification
from apps.notifications.services import notify
from engipay.api.errors import Forbidden, InvalidInput, StateConflict

from .audit import kyc_audit_record
from .limits import limits_for
from .submissions import REJECT_REASONS, level_rank, reject_reason_messages, user_status_sync

Status = KycSubmission.Status


def _locked(submission: KycSubmission, reviewer=None) -> KycSubmission:
    if reviewer is not None and reviewer.is_authenticated and reviewer.pk == submission.user_id:
        raise Forbidden("own_submission", "Reviewers cannot review their own identity submission.")
    return KycSubmission.objects.select_for_update().select_related("user").get(pk=submission.pk)


def _conflict(submission: KycSubmission, doing: str) -> StateConflict:
    return StateConflict(
        "illegal_transition",
        f"Cannot {doing} a submission that is {submission.get_status_display().lower()}.",
        {"kyc_id": submission.pk, "status": submission.status},
    )


def _start(submission: KycSubmission, reviewer, ip_address: str | None) -> None:
    submission.status = Status.IN_REVIEW
    submission.review_started_by = reviewer if reviewer is not None and reviewer.is_authenticated else None
    submission.review_started_at = timezone.now()
    submission.save(update_fields=["status", "review_started_by", "review_started_at", "updated_at"])
    kyc_audit_record(
        action=KycAuditEvent.Action.REVIEW_STARTED, actor=reviewer, submission=submission, ip_address=ip_address
    )
    user_status_sync(user=submission.user, status=Status.IN_REVIEW)


@transaction.atomic
def kyc_review_start(*, submission: KycSubmission, reviewer=None, ip_address: str | None = None) -> KycSubmission:
    """pending → in_review (a reviewer picks it up, or the vendor starts checking)."""
    submission = _locked(submission, reviewer)
    if submission.status != Status.PENDING:
        raise _conflict(submission, "start reviewing")
    _start(submission, reviewer, ip_address)
    return submission


def _open_for_decision(submission: KycSubmission, reviewer, doing: str, ip_address: str | None) -> KycSubmission:
    submission = _locked(submission, reviewer)
    if submission.status == Status.PENDING:  # deciding on a pending submission starts its review first
        _start(submission, reviewer, ip_address)
    elif submission.status != Status.IN_REVIEW:
        raise _conflict(submission, doing)
    return submission


def _decided(submission: KycSubmission, *, status: str, reviewer, fields: list[str]) -> None:
    submission.status = status
    submission.decided_by = reviewer if reviewer is not None and reviewer.is_authenticated else None
    submission.decided_at = timezone.now()
    submission.save(update_fields=["status", "decided_by", "decided_at", "updated_at", *fields])
    user_status_sync(user=submission.user, status=status)


@transaction.atomic
def kyc_submission_approve(
    *, submission: KycSubmission, reviewer=None, note: str = "", ip_address: str | None = None
) -> KycSubmission:
    """in_review → verified. A tier_2 submission that needs four eyes takes two approvals: the first (by a
    reviewer, or the vendor's GREEN) is recorded and the submission stays in review; the second must be a person
    other than the first."""
    submission = _open_for_decision(submission, reviewer, "approve", ip_address)
    by_person = reviewer is not None and reviewer.is_authenticated
    if submission.needs_second_review:
        if submission.first_approved_at is None:
            submission.first_approved_by = reviewer if by_person else None
            submission.first_approved_at = timezone.now()
            if note:
                submission.internal_note = note
            submission.save(update_fields=["first_approved_by", "first_approved_at", "internal_note", "updated_at"])
            kyc_audit_record(
                action=KycAuditEvent.Action.FIRST_APPROVAL,
                actor=reviewer,
                submission=submission,
                details={"note": note} if note else {},
                ip_address=ip_address,
            )
            return submission
        if not by_person:
            raise StateConflict("awaiting_second_reviewer", "A reviewer must confirm this approval.")
        if submission.first_approved_by_id == reviewer.pk:
            raise Forbidden("four_eyes", "A second reviewer must confirm this approval.")
    if note:
        submission.internal_note = note
    _decided(submission, status=Status.VERIFIED, reviewer=reviewer, fields=["internal_note"])
    verification, _ = Verification.objects.select_for_update().get_or_create(user=submission.user)
    if level_rank(submission.requested_level) >= level_rank(verification.level):
        verification.level = submission.requested_level
    verification.submission = submission
    verification.verified_at = submission.decided_at
    verification.save()
    kyc_audit_record(
        action=KycAuditEvent.Action.APPROVED,
        actor=reviewer,
        submission=submission,
        details={"level": verification.level, **({"note": note} if note else {})},
        ip_address=ip_address,
    )
    limits = limits_for(submission.user)
    notify(
        user=submission.user,
        kind="kyc_verified",
        title="Identity verified",
        message=f"Your identity is verified ({verification.level}). Your limits are now {limits.daily} USD a day "
        f"and {limits.monthly} USD a month.",
        data={
            "kyc_id": submission.pk,
            "verification_level": verification.level,
            "limits": {"daily_transaction": str(limits.daily), "monthly_transaction": str(limits.monthly)},
        },
    )
    return submission


def _reasons(reasons: list[str], message: str) -> list[str]:
    codes = list(dict.fromkeys(reasons or []))
    if not codes:
        raise InvalidInput("reason_required", "Give at least one reason.", {"allowed": sorted(REJECT_REASONS)})
    unknown = [code for code in codes if code not in REJECT_REASONS]
    if unknown:
        raise InvalidInput(
            "unknown_reason", f"Unknown reason(s): {', '.join(unknown)}.", {"allowed": sorted(REJECT_REASONS)}
        )
    if "other" in codes and not message.strip():
        raise InvalidInput("message_required", "Explain the reason 'other' in the message to the user.")
    return codes


def _refuse(
    *,
    submission: KycSubmission,
    reviewer,
    reasons: list[str],
    message: str,
    note: str,
    status: str,
    ip_address: str | None,
    revoke: bool = False,
) -> KycSubmission:
    codes = _reasons(reasons, message)
    if revoke:
        submission = _locked(submission, reviewer)
        if submission.status != Status.VERIFIED:
            raise _conflict(submission, "revoke")
    else:
        doing = "reject" if status == Status.REJECTED else "ask for a resubmission of"
        submission = _open_for_decision(submission, reviewer, doing, ip_address)
    submission.reject_reasons = codes
    submission.reviewer_message = message.strip()
    if note:
        submission.internal_note = note
    _decided(
        submission,
        status=status,
        reviewer=reviewer,
        fields=["reject_reasons", "reviewer_message", "internal_note"],
    )
    details = {"reasons": codes, "message": submission.reviewer_message, **({"note": note} if note else {})}
    if revoke:
        details.update(revoked=True, level=_level_fall_back(submission))
    action = KycAuditEvent.Action.REJECTED if status == Status.REJECTED else KycAuditEvent.Action.RESUBMISSION_REQUESTED
    kyc_audit_record(action=action, actor=reviewer, submission=submission, details=details, ip_address=ip_address)
    rejected = status == Status.REJECTED
    if revoke:
        title = "Identity verification withdrawn"
    else:
        title = "Identity verification rejected" if rejected else "Please resubmit your identity documents"
    notify(
        user=submission.user,
        kind="kyc_rejected" if rejected else "kyc_resubmission_required",
        title=title,
        message=" ".join(item["message"] for item in reject_reason_messages(codes))
        + (f" {submission.reviewer_message}" if submission.reviewer_message else ""),
        data={"kyc_id": submission.pk, "status": status, "reasons": codes, **({"revoked": True} if revoke else {})},
    )
    return submission


def _level_fall_back(submission: KycSubmission) -> str:
    """After ``submission`` is revoked, the user's level is their latest other verified submission's (or tier_0)."""
    verification = Verification.objects.select_for_update().filter(user=submission.user).first()
    fallback = (
        KycSubmission.objects.filter(user=submission.user, status=Status.VERIFIED)
        .exclude(pk=submission.pk)
        .order_by("-decided_at")
        .first()
    )
    if verification is None:
        return Level.TIER_0
    verification.level = fallback.requested_level if fallback is not None else Level.TIER_0
    verification.submission = fallback
    verification.verified_at = fallback.decided_at if fallback is not None else None
    verification.save()
    return verification.level


@transaction.atomic
def kyc_submission_reject(
    *,
    submission: KycSubmission,
    reviewer=None,
    reasons: list[str],
    message: str = "",
    note: str = "",
    ip_address: str | None = None,
) -> KycSubmission:
    """in_review → rejected, with reasons from REJECT_REASONS (the user reads their messages)."""
    return _refuse(
        submission=submission,
        reviewer=reviewer,
        reasons=reasons,
        message=message,
        note=note,
        status=Status.REJECTED,
        ip_address=ip_address,
    )


@transaction.atomic
def kyc_submission_request_resubmission(
    *,
    submission: KycSubmission,
    reviewer=None,
    reasons: list[str],
    message: str = "",
    note: str = "",
    ip_address: str | None = None,
) -> KycSubmission:
    """in_review → resubmission_required: the user fixes what the reasons say and submits again."""
    return _refuse(
        submission=submission,
        reviewer=reviewer,
        reasons=reasons,
        message=message,
        note=note,
        status=Status.RESUBMISSION_REQUIRED,
        ip_address=ip_address,
    )


@transaction.atomic
def kyc_verification_revoke(
    *,
    submission: KycSubmission,
    reviewer=None,
    reasons: list[str],
    message: str = "",
    note: str = "",
    ip_address: str | None = None,
) -> KycSubmission:
    """verified → rejected: a verdict reversed after the fact (the vendor's later RED, a reviewer finding fraud).
    The user's level falls back to their latest other verified submission (tier_0 if none)."""
    return _refuse(
        submission=submission,
        reviewer=reviewer,
        reasons=reasons,
        message=message,
        note=note,
        status=Status.REJECTED,
        ip_address=ip_address,
        revoke=True,
    )
