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


class UnreadCountOutput(serializers.Serializer):
    unread_count = serializers.IntegerField()


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="Local time HH:MM when quiet hours begin, e.g. 22:00.")
    end = serializers.CharField(help_text="Local time HH:MM when they end, e.g. 07:00 (may be the next day).")
    timezone = serializers.CharField(help_text="IANA time zone, e.g. Europe/Berlin.")


class PushSubscriptionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    endpoint_host = serializers.CharField()
    user_agent = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class PreferencesOutput(serializers.Serializer):
    channels = serializers.ListField(child=serializers.CharField(), help_text="Channels switched on at all.")
    types = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Every notification type (topic) with the channels it goes out on.",
    )
    email = serializers.EmailField(allow_null=True)
    email_verified = serializers.BooleanField()
    phone = serializers.CharField(allow_null=True)
    phone_verified = serializers.BooleanField()
    push_subscriptions = PushSubscriptionOutput(many=True)
    quiet_hours = QuietHoursSerializer(allow_null=True)
    pending_verification = serializers.ListField(
        child=serializers.CharField(), help_text="Targets waiting for proof: a link was emailed / a code texted."
    )
    updated_at = serializers.DateTimeField(allow_null=True)


class PushSubscriptionInput(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1024)
    expirationTime = serializers.IntegerField(required=False, allow_null=True)
    keys = serializers.DictField(child=serializers.CharField(), help_text="{p256dh, auth}, base64url")


class SubscribeInput(serializers.Serializer):
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=["in_app", "email", "web_push", "sms"]),
        help_text="Channels to switch on for the types given.",
    )
    types = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Notification types: transaction_confirmed, transaction_failed, escrow_*, kyc_*, support_reply, "
        "price_alert, defi_* … (a family may also be named by any of its kinds). All when omitted.",
    )
    email = serializers.EmailField(required=False, help_text="Where emails go; confirmed by a link first.")
    phone = serializers.CharField(required=False, help_text="E.164; confirmed by a code sent by SMS first.")
    push_subscription = PushSubscriptionInput(required=False, help_text="The browser's PushSubscription.toJSON().")


class PreferencesInput(serializers.Serializer):
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    types = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    email = serializers.EmailField(required=False, allow_null=True, help_text="null removes it.")
    phone = serializers.CharField(required=False, allow_null=True, help_text="null removes it.")
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True, help_text="null: no quiet hours.")


class PhoneVerifyInput(serializers.Serializer):
    code = serializers.CharField(help_text="The 6-digit code texted to the phone.")


class UnsubscribeOutput(serializers.Serializer):
    unsubscribed = serializers.BooleanField()
    scope = serializers.CharField(help_text="The notification type switched off for email, or `all`.")
    label = serializers.CharField()


class EmailConfirmOutput(serializers.Serializer):
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
