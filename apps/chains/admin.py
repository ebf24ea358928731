from django.contrib import admin

from .models import PriceFeed, Token, TokenDeployment


class TokenDeploymentInline(admin.TabularInline):
    model = TokenDeployment
    extra = 0


class PriceFeedInline(admin.TabularInline):
    model = PriceFeed
    extra = 0


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "coingecko_id", "price_stale_after_seconds", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["symbol", "name", "coingecko_id"]
    inlines = [TokenDeploymentInline, PriceFeedInline]


@admin.register(TokenDeployment)
class TokenDeploymentAdmin(admin.ModelAdmin):
    list_display = ["token", "chain", "address", "decimals", "is_native"]
    list_filter = ["chain", "is_native"]
    search_fields = ["token__symbol", "address"]
    list_select_related = ["token"]


@admin.register(PriceFeed)
class PriceFeedAdmin(admin.ModelAdmin):
    list_display = ["token", "chain", "address", "stale_after_seconds", "is_active"]
    list_filter = ["chain", "is_active"]
    list_select_related = ["token"]
