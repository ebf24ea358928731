from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import User, Wallet, WalletType


class WalletOutput(serializers.ModelSerializer):
    class Meta:
        model = Wallet
        fields = ["id", "chain_kind", "address", "wallet_type", "verified_at", "last_sign_in_at", "created_at"]


class UserOutput(serializers.ModelSerializer):
    """The user object the frontend stores (``engipay-user``)."""

    email = serializers.SerializerMethodField(help_text="The account's email; see is_email_verified.")
    wallet_address = serializers.SerializerMethodField()
    wallet_type = serializers.SerializerMethodField()
    wallets = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "username",
            "wallet_address",
            "wallet_type",
            "first_name",
            "last_name",
            "avatar_url",
            "is_email_verified",
            "kyc_status",
            "referral_code",
            "settings",
            "created_at",
            "last_login",
            "wallets",
        ]

    def _primary(self, user: User) -> Wallet | None:
        # Prefetched by the selector; the most recently used wallet is the one the frontend shows.
        wallets = list(user.wallets.all())
        return wallets[0] if wallets else None

    def get_email(self, user: User) -> str | None:
        return user.email or user.pending_email

    def get_wallet_address(self, user: User) -> str | None:
        wallet = self._primary(user)
        return wallet.address if wallet else None

    def get_wallet_type(self, user: User) -> str | None:
        wallet = self._primary(user)
        return wallet.wallet_type if wallet else None

    @extend_schema_field(WalletOutput(many=True))
    def get_wallets(self, user: User) -> list[dict]:
        return WalletOutput(user.wallets.all(), many=True).data


class AuthOutput(serializers.Serializer):
    message = serializers.CharField()
    token = serializers.CharField(help_text="Access token: send as `Authorization: Bearer <token>`.")
    refresh = serializers.CharField(help_text="Refresh token for POST /api/auth/refresh (single use).")
    user = UserOutput()


class NonceOutput(serializers.Serializer):
    nonce = serializers.CharField(help_text="Put it in the EIP-4361 message's `Nonce:` line. Single use.")
    expires_at = serializers.DateTimeField()


class TextOrJSONField(serializers.JSONField):
    """A string, or (for Starknet) a JSON object/array; bounded in size."""

    def __init__(self, *, max_chars: int, kinds: tuple[type, ...], **kwargs) -> None:
        self.max_chars, self.kinds = max_chars, kinds
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, self.kinds):
            raise serializers.ValidationError("Must be a string" + (" or JSON" if len(self.kinds) > 1 else "") + ".")
        if len(json.dumps(value)) > self.max_chars:
            raise serializers.ValidationError(f"At most {self.max_chars} characters.")
        return value


class WalletProofInput(serializers.Serializer):
    wallet_address = serializers.CharField(max_length=120)
    wallet_type = serializers.ChoiceField(choices=WalletType.choices)
    message = TextOrJSONField(
        required=False,
        default="",
        max_chars=4000,
        kinds=(str, dict),
        help_text=(
            "Contains a nonce from GET /api/auth/nonce. EVM wallets (metamask, walletconnect): the EIP-4361 text. "
            "Starknet (argent, braavos): SNIP-12 typed data (object or JSON string), primaryType SignIn with "
            "domain {name: 'EngiPay', version, chainId, revision} and message {domain, address, nonce, issuedAt, "
            "expirationTime}. Bitcoin (xverse): the CAIP-122 text ('<domain> wants you to sign in with your "
            "Bitcoin account:' … 'Chain ID: bip122:<genesis hash prefix>' …)."
        ),
    )
    signature = TextOrJSONField(
        required=False,
        default="",
        max_chars=4000,
        kinds=(str, list),
        help_text="EVM: 0x hex. Starknet: the account's signature, a list of felts. Bitcoin: base64 BIP-322 "
        "(simple) or legacy signmessage.",
    )
    account_deployment = serializers.JSONField(
        required=False,
        default=None,
        help_text="Starknet accounts not deployed yet: {class_hash, salt, constructor_calldata} (the wallet's "
        "deployment data), so the address and owner key can be checked.",
    )

    def to_internal_value(self, data):  # type: ignore[override]
        if isinstance(data, dict) and isinstance(data.get("wallet_type"), str):
            data = {**data, "wallet_type": data["wallet_type"].strip().lower()}
        return super().to_internal_value(data)


class EmailPasswordInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


class TokenInput(serializers.Serializer):
    token = serializers.CharField(max_length=500)


class ForgotPasswordInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class ResetPasswordInput(serializers.Serializer):
    token = serializers.CharField(max_length=300)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class MessageOutput(serializers.Serializer):
    message = serializers.CharField()


class RefreshOutput(serializers.Serializer):
    token = serializers.CharField()
    refresh = serializers.CharField()


class MeOutput(serializers.Serializer):
    user = UserOutput()
