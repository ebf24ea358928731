from django.contrib import admin

from .models import ChainTransaction, ChainTransactionEvent


class ChainTransactionEventInline(admin.TabularInline):
    model = ChainTransactionEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "block_number", "block_hash", "note", "created_at"]


@admin.register(ChainTransaction)
class ChainTransactionAdmin(admin.ModelAdmin):
    list_display = ["tx_hash", "network", "status", "asset", "amount_base", "confirmations", "created_at"]
    list_filter = ["network", "status", "type"]
    search_fields = ["tx_hash", "from_address", "to_address"]
    list_select_related = ["asset"]
    readonly_fields = [f.name for f in ChainTransaction._meta.fields]
    inlines = [ChainTransactionEventInline]
