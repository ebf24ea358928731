from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=64, help_text="Machine-readable type, e.g. transaction_confirmed.")
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted by the user: hidden from the API, kept with its delivery log."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"

    @property
    def read(self) -> bool:
        return self.read_at is not None


class Channel(models.TextChoices):
    IN_APP = "in_app", "In app (websocket)"
    EMAIL = "email", "Email"
    WEB_PUSH = "web_push", "Web push"
    SMS = "sms", "SMS"


class NotificationPreference(models.Model):
    """What a user wants to hear about and where. No row: the defaults of ``apps.notifications.catalog``.

    A notification of topic ``t`` goes out on channel ``c`` when ``c`` is in ``channels`` (the master switch), in
    ``types[t]`` (or the topic's default channels when ``t`` is not there) and the channel has a proven target
    (a confirmed email, a confirmed phone, at least one push subscription). ``in_app`` only controls the live
    push: every notification is stored and listed by ``GET /api/notifications``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="notification_preference"
    )
    channels = models.JSONField(default=list, blank=True, help_text='Enabled channels, e.g. ["in_app", "email"].')
    types = models.JSONField(default=dict, blank=True, help_text='Topic -> channels, e.g. {"kyc_*": ["email"]}.')
    email = models.EmailField(blank=True, help_text="Where notification emails go (the account email by default).")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +14155550123.")
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    phone_code_hash = models.CharField(max_length=128, blank=True)
    phone_code_expires_at = models.DateTimeField(null=True, blank=True)
    phone_code_attempts = models.PositiveSmallIntegerField(default=0)
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time; email/push/SMS wait.")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Notification preferences of user {self.user_id}"


class PushSubscription(models.Model):
    """A browser's ``PushSubscription.toJSON()``: endpoint + keys. Removed when the push service says 404/410."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1024, unique=True)
    p256dh = models.CharField(max_length=128)
    auth = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Push subscription {self.id} of user {self.user_id}"


class Delivery(models.Model):
    """One notification on one external channel to one target; the admin's delivery log."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.CharField(max_length=320, help_text="Email address, E.164 phone or push subscription id.")
    push_subscription = models.ForeignKey(
        PushSubscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    scheduled_for = models.DateTimeField(help_text="Not sent before this (the end of the user's quiet hours).")
    next_attempt_at = models.DateTimeField(help_text="When the next attempt is due.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When a task was last queued for it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel", "target"], name="notifications_delivery_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notifications_delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {self.status}"
