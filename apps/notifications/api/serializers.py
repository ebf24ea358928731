from __future__ import annotations

from rest_framework import serializers

from apps.notifications.models import Notification


class NotificationOutput(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")
    read = serializers.BooleanField()

    class Meta:
        model = Notification
        fields = ["id", "type", "title", "message", "data", "read", "read_at", "created_at"]


class MarkAllReadOutput(serializers.Serializer):
    updated = serializers.IntegerField(help_text="How many notifications were unread and are now read.")
    unread_count = serializers.IntegerField()


class NotificationPageOutput(serializers.Serializer):
    notifications = NotificationOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()
    unread_count = serializers.IntegerField()
