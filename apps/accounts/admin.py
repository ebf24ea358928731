from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import SignInNonce, User, Wallet


class WalletInline(admin.TabularInline):
    model = Wallet
    extra = 0
    fields = ["chain_kind", "address", "wallet_type", "verified_at", "last_sign_in_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # a wallet is only ever linked by a signature from its owner


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)


class UserChange(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChange
    add_form = UserCreationForm
    inlines = [WalletInline]
    list_display = [
        "__str__",
        "email",
        "pending_email",
        "kyc_status",
        "is_staff",
        "is_active",
        "created_at",
        "last_login",
    ]
    list_filter = ["is_staff", "is_active", "kyc_status", "is_email_verified", "groups"]
    search_fields = ["id", "email", "pending_email", "username", "wallets__address", "referral_code"]
    ordering = ["-created_at"]
    readonly_fields = ["id", "referral_code", "created_at", "updated_at", "last_login", "login_count"]
    fieldsets = (
        (None, {"fields": ("id", "email", "pending_email", "is_email_verified", "password")}),
        ("Profile", {"fields": ("username", "first_name", "last_name", "avatar_url", "settings")}),
        (
            "Status",
            {"fields": ("kyc_status", "referral_code", "login_count", "last_login", "created_at", "updated_at")},
        ),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["address", "chain_kind", "wallet_type", "user", "verified_at", "last_sign_in_at"]
    list_filter = ["chain_kind", "wallet_type"]
    search_fields = ["address", "user__email"]
    list_select_related = ["user"]
    readonly_fields = [
        "id",
        "user",
        "chain_kind",
        "address",
        "wallet_type",
        "verified_at",
        "last_sign_in_at",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SignInNonce)
class SignInNonceAdmin(admin.ModelAdmin):
    list_display = ["nonce", "created_at", "expires_at", "used_at"]
    readonly_fields = ["nonce", "created_at", "expires_at", "used_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
