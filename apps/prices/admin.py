from django.contrib import admin

from .models import AssetPrice, PriceAlert


@admin.register(AssetPrice)
class AssetPriceAdmin(admin.ModelAdmin):
    """Read-only: prices come from the ingestion (sources), never from hand edits."""

    list_display = ["token", "price_usd", "change_24h", "source", "observed_at", "fetched_at"]
    list_filter = ["source", "token", ("observed_at", admin.DateFieldListFilter)]
    search_fields = ["token__symbol", "source"]
    list_select_related = ["token"]
    date_hierarchy = "observed_at"
    ordering = ["-observed_at", "-id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PriceAlert)
class PriceAlertAdmin(admin.ModelAdmin):
    """Support can see a user's alerts and delete one; thresholds and states change only through the API (re-arm)
    and the evaluation, so nothing is editable here."""

    list_display = ["token", "direction", "price", "status", "user", "armed_at", "triggered_at", "created_at"]
    list_filter = ["status", "direction", "token"]
    search_fields = ["id", "token__symbol", "user__email", "note"]
    list_select_related = ["token", "user"]
    readonly_fields = [
        "id",
        "user",
        "token",
        "direction",
        "price",
        "status",
        "armed_at",
        "triggered_at",
        "triggered_price",
        "notification_id",
        "note",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]

    def has_add_permission(self, request) -> bool:
        return False
