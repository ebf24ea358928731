from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "user", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "message", "user__email", "kind"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "kind", "title", "message", "data", "created_at", "read_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False  # notifications come from notify(), which also pushes them
