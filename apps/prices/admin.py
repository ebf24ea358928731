from django.contrib import admin

from .models import AssetPrice


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
