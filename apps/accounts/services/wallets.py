"""Wallet sign-in: nonces, EIP-4361 proofs, linking wallets."""

from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import addresses, walletproof
from apps.accounts.models import WALLET_CHAIN_KIND, SignInNonce, User, Wallet, WalletType
from engipay.api.errors import Forbidden, StateConflict, Unauthenticated

from .email_auth import record_login

logger = logging.getLogger(__name__)

NONCE_ALPHABET = string.ascii_letters + string.digits
EMAIL_VERIFY_SALT = "accounts.email-verify"
EMAIL_VERIFY_MAX_AGE = 3 * 24 * 3600


# --- Nonces ----------------------------------------------------------------------------------------------


def sign_in_nonce_issue() -> SignInNonce:
    nonce = "".join(secrets.choice(NONCE_ALPHABET) for _ in range(24))  # EIP-4361: >= 8 alphanumerics
    return SignInNonce.objects.create(nonce=nonce, expires_at=timezone.now() + settings.SIGN_IN_NONCE_TTL)


def sign_in_nonce_consume(*, nonce: str) -> None:
    """Use a nonce up. One conditional UPDATE, so two requests racing with one message cannot both win."""
    now = timezone.now()
    used = SignInNonce.objects.filter(nonce=nonce, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    if used != 1:
        raise Unauthenticated("invalid_nonce", "The nonce is unknown, expired or already used. Ask for a new one.")


def sign_in_nonce_cleanup(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete nonces that expired (or were used) more than ``older_than`` ago. Idempotent."""
    cutoff = timezone.now() - older_than
    deleted, _ = SignInNonce.objects.filter(expires_at__lt=cutoff).delete()
    return deleted


# --- Wallet proof ----------------------------------------------------------------------------------------


def _allowed_domains(request_host: str) -> set[str]:
    if settings.SIWE_DOMAINS:
        return set(settings.SIWE_DOMAINS)
    return {request_host, urlsplit(settings.FRONTEND_URL).netloc}


def _allowed_chain_ids() -> set[int]:
    return {int(c["chain_id"]) for c in settings.CHAINS.values() if c.get("kind") == "evm"}


def _verified_address(
    *, wallet_address: str, wallet_type: str, message: str, signature: str, request_host: str
) -> tuple[str, str]:
    """Return (chain_kind, normalised address) once the proof and its nonce check out."""
    chain_kind = WALLET_CHAIN_KIND[WalletType(wallet_type)]
    walletproof.require_supported(chain_kind)
    address = addresses.normalize(chain_kind, wallet_address)
    verified = walletproof.verify_siwe(
        message=message,
        signature=signature,
        expected_address=address,
        allowed_domains=_allowed_domains(request_host),
        allowed_chain_ids=_allowed_chain_ids(),
    )
    sign_in_nonce_consume(nonce=verified.nonce)
    return chain_kind, address


@transaction.atomic
def wallet_sign_in(
    *, wallet_address: str, wallet_type: str, message: str, signature: str, request_host: str
) -> tuple[User, bool]:
    """Sign in with a wallet, creating the user on first sign-in. Returns (user, created)."""
    chain_kind, address = _verified_address(
        wallet_address=wallet_address,
        wallet_type=wallet_type,
        message=message,
        signature=signature,
        request_host=request_host,
    )
    now = timezone.now()
    wallet = (
        Wallet.objects.select_for_update().select_related("user").filter(chain_kind=chain_kind, address=address).first()
    )
    created = wallet is None
    if created:
        try:
            with transaction.atomic():
                wallet = Wallet.objects.create(
                    user=User.objects.create_user(),
                    chain_kind=chain_kind,
                    address=address,
                    wallet_type=wallet_type,
                    verified_at=now,
                )
        except IntegrityError:
            # Another sign-in for this wallet (with another nonce) created it a moment ago.
            raise StateConflict("sign_in_in_progress", "This wallet is signing in already; try again.") from None
    user = wallet.user
    if not user.is_active:
        raise Forbidden("account_disabled", "This account is deactivated. Please contact support.")
    Wallet.objects.filter(pk=wallet.pk).update(last_sign_in_at=now, wallet_type=wallet_type)
    record_login(user=user)
    return user, created


@transaction.atomic
def wallet_link(
    *, user: User, wallet_address: str, wallet_type: str, message: str, signature: str, request_host: str
) -> Wallet:
    chain_kind, address = _verified_address(
        wallet_address=wallet_address,
        wallet_type=wallet_type,
        message=message,
        signature=signature,
        request_host=request_host,
    )
    existing = Wallet.objects.filter(chain_kind=chain_kind, address=address).first()
    if existing is not None:
        if existing.user_id == user.id:
            return existing
        raise StateConflict("wallet_in_use", "This wallet is already linked to another account.")
    try:
        with transaction.atomic():
            return Wallet.objects.create(
                user=user,
                chain_kind=chain_kind,
                address=address,
                wallet_type=wallet_type,
                verified_at=timezone.now(),
            )
    except IntegrityError:
        raise StateConflict("wallet_in_use", "This wallet is already linked to another account.") from None
