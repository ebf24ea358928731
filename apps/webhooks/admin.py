"""The inbound webhook delivery log, read-only for staff: nobody adds, edits or deletes a delivery by hand. Staff
with ``webhooks.process_webhookdelivery`` may process accepted deliveries again (handlers are idempotent)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery


def _pretty(value: Any) -> str:
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", value)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "topic", "source", "event_id", "verdict", "status", "attempts"]
    list_filter = ["topic", "source", "verdict", "status"]
    date_hierarchy = "received_at"
    search_fields = ["=event_id"]
    search_help_text = "Exact event id (body id, e.g. whevt_…)."
    ordering = ["-received_at"]
    actions = ["process_again"]
    fields = [
        "id",
        "received_at",
        "topic",
        "source",
        "event_id",
        "verdict",
        "status",
        "retriable",
        "attempts",
        "processed_at",
        "next_attempt_at",
        "result_text",
        "duplicate_of",
        "remote_addr",
        "body_size",
        "body_truncated",
        "body_pretty",
        "headers_pretty",
        "payload_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="result")
    def result_text(self, delivery: WebhookDelivery) -> str:
        return _pretty(delivery.result or "—")

    @admin.display(description="body")
    def body_pretty(self, delivery: WebhookDelivery) -> str:
        if not delivery.body:
            return "— (too large: not read)" if delivery.verdict == "payload_too_large" else "—"
        try:
            text = json.dumps(json.loads(delivery.body), indent=2, sort_keys=True, ensure_ascii=False)
        except (ValueError, RecursionError):  # refused bodies may be anything
            text = delivery.body
        return _pretty(text + (" […]" if delivery.body_truncated else ""))

    @admin.display(description="headers")
    def headers_pretty(self, delivery: WebhookDelivery) -> str:
        return _pretty(json.dumps(delivery.headers, indent=2, sort_keys=True, ensure_ascii=False))

    @admin.display(description="payload (what the handler receives)")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        if delivery.payload is None:
            return "—"
        return _pretty(json.dumps(delivery.payload, indent=2, sort_keys=True, ensure_ascii=False))

    @admin.action(description="Process again (accepted deliveries)", permissions=["process"])
    def process_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        queued = services.webhook_deliveries_requeue(delivery_ids=selected)
        if queued:
            self.message_user(request, f"{queued} delivery(ies) queued for processing.", messages.SUCCESS)
        if queued < len(selected):
            skipped = len(selected) - queued
            self.message_user(request, f"{skipped} refused or duplicate delivery(ies) skipped.", messages.WARNING)

    def has_process_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.process_webhookdelivery")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
