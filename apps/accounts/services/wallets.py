"""Wallet sign-in: nonces, EIP-4361 proofs, linking wallets."""

from __future__ import annotations

import json
import logging
import secrets
import string
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import addresses, hooks, starknet_proof, walletproof
from apps.accounts.models import WALLET_CHAIN_KIND, ChainKind, SignInNonce, User, Wallet, WalletType
from engipay.api.errors import Forbidden, InvalidInput, StateConflict, Unauthenticated

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


def _allowed_bitcoin_networks() -> set[str]:
    configured = {str(c["chain_id"]) for c in settings.CHAINS.values() if c.get("kind") == "bitcoin"}
    return configured or {"mainnet"}


def _verified_address(
    *,
    wallet_address: str,
    wallet_type: str,
    message,
    signature,
    request_host: str,
    account_deployment: dict | None = None,
) -> tuple[str, str]:
    """Return (chain_kind, normalised address) once the proof and its nonce check out."""
    chain_kind = WALLET_CHAIN_KIND[WalletType(wallet_type)]
    address = addresses.normalize(chain_kind, wallet_address)
    domains = _allowed_domains(request_host)
    if chain_kind == ChainKind.STARKNET:
        nonce = _verified_starknet(address, message, signature, domains, account_deployment)
    elif not isinstance(message, str) or not isinstance(signature, str):
        raise Unauthenticated("invalid_message", "message and signature must be strings for this wallet type.")
    elif chain_kind == ChainKind.BITCOIN:
        nonce = walletproof.verify_bitcoin(
            message=message,
            signature=signature,
            expected_address=address,
            allowed_domains=domains,
            allowed_networks=_allowed_bitcoin_networks(),
        ).nonce
    else:
        nonce = walletproof.verify_siwe(
            message=message,
            signature=signature,
            expected_address=address,
            allowed_domains=domains,
            allowed_chain_ids=_allowed_chain_ids(),
        ).nonce
    sign_in_nonce_consume(nonce=nonce)
    return chain_kind, address


def _verified_starknet(address: str, message, signature, domains: set[str], deployment: dict | None) -> str:
    if not starknet_proof.sign_in_chains():
        raise InvalidInput("wallet_type_not_supported", "No Starknet network is configured for sign-in.")
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            raise Unauthenticated("invalid_message", "The message must be SNIP-12 typed data (JSON).") from None
    if not message or not signature:
        raise Unauthenticated("signature_required", "A signed SNIP-12 sign-in message is required.")
    felts = starknet_proof.parse_signature(signature)
    verified, chain = starknet_proof.check_typed_data(typed=message, expected_address=address, allowed_domains=domains)
    valid = starknet_proof.account_says_valid(
        chain=chain, account=address, message_hash=verified.message_hash, signature=felts
    )
    if valid is None:  # not deployed yet: the wallet's deployment data stands in for the contract
        valid = starknet_proof.undeployed_says_valid(
            account=address, deployment=deployment, message_hash=verified.message_hash, signature=felts
        )
    if not valid:
        raise Unauthenticated("invalid_signature", "The account does not accept this signature.")
    return verified.nonce


def wallet_sign_in(
    *,
    wallet_address: str,
    wallet_type: str,
    message,
    signature,
    request_host: str,
    account_deployment: dict | None = None,
) -> tuple[User, bool]:
    """Sign in with a wallet, creating the user on first sign-in. Returns (user, created).

    The proof is checked (its nonce used up by one conditional UPDATE) and a new wallet screened before the
    transaction opens: a screener's records (an AML case) must not roll back with the refused sign-up."""
    chain_kind, address = _verified_address(
        wallet_address=wallet_address,
        wallet_type=wallet_type,
        message=message,
        signature=signature,
        request_host=request_host,
        account_deployment=account_deployment,
    )
    # Every sign-in, not only the first: a wallet listed after it signed up may not come back in.
    existing = Wallet.objects.filter(chain_kind=chain_kind, address=address).only("user_id").first()
    hooks.screen_wallet(
        user=existing.user if existing is not None else None,
        chain_kind=chain_kind,
        address=address,
        context="wallet_sign_in",
    )
    return _wallet_sign_in_verified(chain_kind=chain_kind, address=address, wallet_type=wallet_type)


@transaction.atomic
def _wallet_sign_in_verified(*, chain_kind: str, address: str, wallet_type: str) -> tuple[User, bool]:
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


def wallet_link(
    *,
    user: User,
    wallet_address: str,
    wallet_type: str,
    message,
    signature,
    request_host: str,
    account_deployment: dict | None = None,
) -> Wallet:
    """Link a verified wallet to ``user``. Screened before the transaction opens (see ``wallet_sign_in``)."""
    chain_kind, address = _verified_address(
        wallet_address=wallet_address,
        wallet_type=wallet_type,
        message=message,
        signature=signature,
        request_host=request_host,
        account_deployment=account_deployment,
    )
    hooks.screen_wallet(user=user, chain_kind=chain_kind, address=address, context="wallet_link")
    return _wallet_link_verified(user=user, chain_kind=chain_kind, address=address, wallet_type=wallet_type)


@transaction.atomic
def _wallet_link_verified(*, user: User, chain_kind: str, address: str, wallet_type: str) -> Wallet:
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
