"""The interface every identity-verification provider implements, and the errors they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from apps.kyc.models import KycSubmission, ProviderEvent
from engipay.api.errors import ApplicationError, UpstreamUnavailable


class ProviderNotConfigured(UpstreamUnavailable):
    """The provider's credentials or secrets are not set on this machine (503): nothing can be sent or checked."""

    default_code = "provider_not_configured"


class InvalidSignature(ApplicationError):
    """A webhook whose signature is missing, uses an unknown algorithm or does not match (401)."""

    status_code = 401
    default_code = "invalid_signature"


class VerificationProvider(Protocol):
    """A place submissions go to be checked. ``submit`` is idempotent: a second call after a partial failure
    finishes the job without creating anything twice. ``handle_webhook`` verifies, stores and applies one
    delivery from the provider (or raises :class:`InvalidSignature` / :class:`ProviderNotConfigured` /
    ``InvalidInput`` before storing anything)."""

    name: str

    def submit(self, *, submission: KycSubmission) -> None: ...

    def handle_webhook(self, *, raw_body: bytes, headers: Mapping[str, str]) -> WebhookOutcome: ...


class WebhookOutcome:
    """What became of one delivery: the stored event and whether it had been received before."""

    __slots__ = ("duplicate", "event")

    def __init__(self, *, event: ProviderEvent, duplicate: bool) -> None:
        self.event = event
        self.duplicate = duplicate

    @property
    def verdict(self) -> str:
        return self.event.verdict
