from __future__ import annotations

from rest_framework import serializers

from apps.webhooks.models import WebhookDelivery


class WebhookReceiptOutput(serializers.Serializer):
    received = serializers.BooleanField(help_text="Always true: the delivery is stored.")
    duplicate = serializers.BooleanField(
        help_text="This event id was accepted from this sender on this endpoint before."
    )
    delivery_id = serializers.UUIDField(help_text="The accepted delivery (for a duplicate: the first one).")
    status = serializers.ChoiceField(
        choices=WebhookDelivery.Status.choices,
        help_text="queued (handed to the worker), ignored (nothing to do, e.g. an Alchemy error envelope), "
        "unhandled (no app handles this topic yet); for a duplicate, the first delivery's current status "
        "(processed, failed...).",
    )
