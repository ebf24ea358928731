"""Verification providers behind one interface (:class:`VerificationProvider`): ``manual`` (reviewers decide in
the admin, the default) and ``sumsub`` (the vendor checks; its verdict arrives in a signed webhook)."""

from __future__ import annotations

from collections.abc import Mapping

from apps.kyc.models import KycSubmission
from engipay.api.errors import NotFound

from .base import InvalidSignature, ProviderNotConfigured, VerificationProvider, WebhookOutcome
from .manual import ManualProvider
from .sumsub import SumsubProvider

__all__ = [
    "InvalidSignature",
    "ManualProvider",
    "ProviderNotConfigured",
    "SumsubProvider",
    "VerificationProvider",
    "WebhookOutcome",
    "kyc_provider_submit",
    "kyc_provider_webhook_handle",
    "provider_for",
]

_PROVIDERS: dict[str, type] = {
    ManualProvider.name: ManualProvider,
    SumsubProvider.name: SumsubProvider,
}


def provider_for(name: str) -> VerificationProvider:
    try:
        return _PROVIDERS[name]()
    except KeyError:
        raise NotFound("unknown_provider", f"No verification provider named {name!r}.") from None


def kyc_provider_submit(*, submission_id: str) -> KycSubmission | None:
    """Send a submission to its provider (the ``kyc.provider_submit`` task). Idempotent: a decided submission
    is left alone and every step already done is skipped. Raises ``UpstreamUnavailable`` when worth retrying."""
    submission = KycSubmission.objects.select_related("user").filter(pk=submission_id).first()
    if submission is None or not submission.is_open:
        return submission
    provider_for(submission.provider).submit(submission=submission)
    return submission


def kyc_provider_webhook_handle(*, provider: str, raw_body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
    """Verify, store (once) and apply one webhook delivery from ``provider``."""
    return provider_for(provider).handle_webhook(raw_body=raw_body, headers=headers)
