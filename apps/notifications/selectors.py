from __future__ import annotations

from uuid import UUID

import django_filters
from django.shortcuts import get_object_or_404

from engipay.api.errors import InvalidInput

from .models import Notification


class NotificationFilter(django_filters.FilterSet):
    read = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_read",
        help_text="true: only read ones; false: only unread ones.",
    )
    type = django_filters.CharFilter(field_name="kind")

    class Meta:
        model = Notification
        fields = ["read", "type"]

    def filter_read(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value == "false")


def notification_list_for_user(*, user, filters: dict | None = None):
    qs = Notification.objects.filter(user=user, deleted_at__isnull=True).order_by("-created_at", "-id")
    filterset = NotificationFilter(filters or {}, queryset=qs)
    if not filterset.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in filterset.errors.items()}
        raise InvalidInput("invalid_filter", "A filter value is not valid.", errors)
    return filterset.qs


def notification_get_for_user(*, user, notification_id: UUID) -> Notification:
    return get_object_or_404(Notification.objects.filter(user=user, deleted_at__isnull=True), pk=notification_id)


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True, deleted_at__isnull=True).count()
