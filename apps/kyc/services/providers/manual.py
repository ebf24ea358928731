"""The default provider: reviewers decide in the admin. Nothing leaves the building."""

from __future__ import annotations

from collections.abc import Mapping

from apps.kyc.models import KycSubmission
from engipay.api.errors import NotFound

from .base import WebhookOutcome


class ManualProvider:
    name = KycSubmission.Provider.MANUAL.value

    def submit(self, *, submission: KycSubmission) -> None:
        """Nothing to send: the submission waits in the reviewers' queue (``kyc_review_queue``)."""

    def handle_webhook(self, *, raw_body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        raise NotFound("not_found", "The manual provider takes no webhooks.")
