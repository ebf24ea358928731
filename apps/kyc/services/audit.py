"""The reviewers' audit trail: every view of a document or personal info and every decision (who, when, what)."""

from __future__ import annotations

from typing import Any

from apps.kyc.models import AmlCase, KycAuditEvent, KycSubmission


def kyc_audit_record(
    *,
    action: str,
    actor=None,
    submission: KycSubmission | None = None,
    aml_case: AmlCase | None = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> KycAuditEvent:
    """Append one event (actor None = the system). Rows are never updated or deleted by the application."""
    return KycAuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        submission=submission,
        aml_case=aml_case,
        details=details or {},
        ip_address=ip_address,
    )
