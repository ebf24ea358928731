from __future__ import annotations

import secrets
import string
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

REFERRAL_ALPHABET = string.ascii_uppercase + string.digits


def new_referral_code() -> str:
    return "ENGI" + "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(6))


def default_user_settings() -> dict:
    return {
        "notifications": {"email": True, "push": True, "sms": False, "marketing": False},
        "currency": "USD",
        "language": "en",
        "theme": "auto",
        "timezone": "UTC",
    }


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str | None = None, password: str | None = None, **extra) -> User:
        user = self.model(email=self.normalize_email(email).lower() if email else None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email=email, password=password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Wallet-first: a user may have no email and no password (then ``password`` is unusable).

    Staff sign in to the admin with email and password.
    """

    class KycStatus(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        PENDING = "pending", "Pending"
        IN_REVIEW = "in_review", "In review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        RESUBMISSION_REQUIRED = "resubmission_required", "Resubmission required"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # ``email`` is set only once the address is proven (verification link or password-reset link), so a
    # sign-up never reveals whether an address is taken; until then the claim sits in ``pending_email``.
    email = models.EmailField(unique=True, null=True, blank=True)
    pending_email = models.EmailField(null=True, blank=True, db_index=True)  # noqa: DJ001
    username = models.CharField(max_length=150, unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(blank=True)
    is_email_verified = models.BooleanField(default=False)
    kyc_status = models.CharField(max_length=24, choices=KycStatus.choices, default=KycStatus.NOT_STARTED)
    referral_code = models.CharField(max_length=16, unique=True, default=new_referral_code, editable=False)
    settings = models.JSONField(default=default_user_settings, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    login_count = models.PositiveIntegerField(default=0)
    # Bumped when every issued token must stop working (password reset, "sign out everywhere").
    session_epoch = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        if self.email:
            return self.email
        wallet = self.wallets.order_by("-last_sign_in_at").first()
        return wallet.address if wallet else str(self.id)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or (self.email or "")


class ChainKind(models.TextChoices):
    EVM = "evm", "EVM"
    STARKNET = "starknet", "Starknet"
    BITCOIN = "bitcoin", "Bitcoin"


class WalletType(models.TextChoices):
    METAMASK = "metamask", "MetaMask"
    WALLETCONNECT = "walletconnect", "WalletConnect"
    ARGENT = "argent", "Argent"
    BRAAVOS = "braavos", "Braavos"
    XVERSE = "xverse", "Xverse"


WALLET_CHAIN_KIND = {
    WalletType.METAMASK: ChainKind.EVM,
    WalletType.WALLETCONNECT: ChainKind.EVM,
    WalletType.ARGENT: ChainKind.STARKNET,
    WalletType.BRAAVOS: ChainKind.STARKNET,
    WalletType.XVERSE: ChainKind.BITCOIN,
}


class Wallet(models.Model):
    """An address the user proved control of. ``address`` is normalised (EIP-55 for EVM, 0x + 64 hex for
    Starknet felts), so the same account can never appear twice under two spellings."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wallets")
    chain_kind = models.CharField(max_length=16, choices=ChainKind.choices)
    address = models.CharField(max_length=100)
    wallet_type = models.CharField(max_length=20, choices=WalletType.choices)
    verified_at = models.DateTimeField()
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_sign_in_at", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["chain_kind", "address"], name="accounts_wallet_unique")]
        indexes = [models.Index(fields=["user", "-last_sign_in_at"])]

    def __str__(self) -> str:
        return f"{self.get_chain_kind_display()} {self.address}"


class SignInNonce(models.Model):
    """A single-use, short-lived challenge for a wallet signature (EIP-4361 ``Nonce``)."""

    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.nonce
