from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils import timezone

from . import deliveries
from .models import Delivery, Notification, NotificationPreference, PushSubscription


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "target", "status", "attempts", "last_error", "sent_at", "next_attempt_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "user", "created_at", "read_at", "deleted_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter), ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "message", "user__email", "kind"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "kind", "title", "message", "data", "created_at", "read_at", "deleted_at"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]

    def has_add_permission(self, request) -> bool:
        return False  # notifications come from notify(), which also pushes and delivers them


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Every email / web push / SMS: where it went, its status, attempts and the provider's last answer."""

    list_display = ["created_at", "channel", "target", "status", "attempts", "kind", "user", "sent_at"]
    list_filter = ["status", "channel", "notification__kind", "created_at"]
    search_fields = ["target", "user__email", "notification__title", "provider_message_id", "=id"]
    list_select_related = ["user", "notification"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "notification",
        "user",
        "channel",
        "target",
        "push_subscription",
        "status",
        "attempts",
        "last_error",
        "provider_message_id",
        "scheduled_for",
        "next_attempt_at",
        "enqueued_at",
        "sent_at",
        "created_at",
        "updated_at",
    ]
    actions = ["send_again"]

    @admin.display(description="Type", ordering="notification__kind")
    def kind(self, obj: Delivery) -> str:
        return obj.notification.kind

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the log is written by the delivery loop only

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_delivery")

    @admin.action(description="Send again (failed or bounced deliveries, now)", permissions=["resend"])
    def send_again(self, request, queryset: QuerySet[Delivery]) -> None:
        retry = queryset.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.BOUNCED])
        now = timezone.now()
        ids = [str(pk) for pk in retry.values_list("pk", flat=True)]
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.QUEUED, attempts=0, next_attempt_at=now, enqueued_at=now, last_error=""
        )
        deliveries._enqueue(ids)
        messages.info(request, f"{len(ids)} delivery(ies) queued again; {queryset.count() - len(ids)} skipped.")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "channels", "email", "email_verified_at", "phone", "phone_verified_at", "updated_at"]
    search_fields = ["user__email", "email", "phone"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "channels",
        "types",
        "email",
        "email_verified_at",
        "phone",
        "phone_verified_at",
        "quiet_hours_start",
        "quiet_hours_end",
        "timezone",
        "updated_at",
    ]
    exclude = ["phone_code_hash", "phone_code_expires_at", "phone_code_attempts"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the user's own choices: changed through the app or the email links


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "user_agent", "created_at", "last_success_at"]
    search_fields = ["user__email", "endpoint"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "endpoint", "p256dh", "auth", "user_agent", "created_at", "last_success_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
