"""Inbound webhook deliveries: every request to a webhook endpoint (accepted, duplicate or refused) is one row, kept
for WEBHOOK_RETENTION_DAYS as the delivery log staff read in the admin."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class WebhookDelivery(models.Model):
    class Topic(models.TextChoices):
        BLOCKCHAIN = "blockchain", "Blockchain"
        PRICES = "prices", "Prices"
        DEFI = "defi", "DeFi"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"
        UNHANDLED = "unhandled", "Unhandled"

    # Verdicts besides the refusal codes (missing_signature, invalid_signature, stale_timestamp, ...).
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=16, choices=Topic.choices)
    source = models.CharField(
        max_length=64, blank=True, help_text='"alchemy" or a key of WEBHOOK_SOURCES; blank when no known sender.'
    )
    event_id = models.CharField(max_length=128, blank=True, help_text="The sender's event id (body `id`).")
    verdict = models.CharField(max_length=32, help_text="accepted, duplicate, or the error code of the refusal.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IGNORED)
    retriable = models.BooleanField(default=False, help_text="Failed on a transient error: the task may run it again.")
    result = models.TextField(blank=True, help_text="What the handler did, or why the delivery was refused.")
    attempts = models.PositiveIntegerField(default=0)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(blank=True, help_text="The raw body (only the start of it unless accepted).")
    body_size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes (as declared, if too large).")
    body_truncated = models.BooleanField(default=False)
    payload = models.JSONField(null=True, blank=True, help_text="The validated event the handler receives.")
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers, without Cookie/Authorization.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When a processing task was last sent.")
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Failed on a transient error: when it is tried again (the sweep sends it if that retry was lost).",
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # The replay guard: one accepted delivery per sender, topic and event id (a sender may number its events
            # per topic); refusals and duplicates repeat freely.
            models.UniqueConstraint(
                fields=["source", "topic", "event_id"],
                condition=models.Q(verdict="accepted"),
                name="webhooks_one_accepted_delivery_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="webhooks_status_received"),
            models.Index(fields=["event_id"], name="webhooks_event_id"),  # the admin's search
        ]
        permissions = [("process_webhookdelivery", "Can process an accepted webhook delivery again")]

    def __str__(self) -> str:
        return f"{self.topic} {self.source or '?'} {self.event_id or self.pk} ({self.verdict}, {self.status})"

    @property
    def accepted(self) -> bool:
        return self.verdict == self.ACCEPTED
