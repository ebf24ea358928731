"""Accounts: sign-in (wallet and email), tokens, wallets, password reset."""

from __future__ import annotations

import functools
import logging
import secrets
import string
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from engipay.api.errors import Forbidden, InvalidInput, StateConflict, Unauthenticated

from . import addresses, walletproof
from .models import WALLET_CHAIN_KIND, SignInNonce, User, Wallet, WalletType

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
    _record_login(user=user)
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


# --- Email and password ----------------------------------------------------------------------------------


def _normalize_email(email: str) -> str:
    return email.strip().lower()


def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput("weak_password", exc.messages[0], {"password": exc.messages}) from None


@transaction.atomic
def user_signup(*, email: str, password: str) -> User:
    """Create an account whose email is a claim until proven.

    The answer is the same whether or not the address already belongs to someone (no enumeration): a new
    account with the claim in ``pending_email``. The mailbox's owner learns which case it was by email.
    """
    email = _normalize_email(email)
    _validate_password(password, User(pending_email=email))
    user = User.objects.create_user(password=password, pending_email=email)
    owner = User.objects.filter(email__iexact=email).first()
    if owner is None:
        _send_verification_email(user=user)
    else:
        _send_mail(
            to=email,
            subject="Someone tried to sign up with your email",
            body=(
                "Someone tried to create an EngiPay account with this email address, which already has one.\n\n"
                f"If it was you, sign in or reset your password at {settings.FRONTEND_URL}.\n"
                "If not, you can ignore this email: your account is unchanged."
            ),
        )
    _record_login(user=user)
    return user


def _send_mail(*, to: str, subject: str, body: str) -> None:
    # After commit: a rolled-back sign-up must not send mail about an account that does not exist.
    transaction.on_commit(lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=[to]))


def _send_verification_email(*, user: User) -> None:
    token = signing.dumps({"u": str(user.pk), "e": user.pending_email}, salt=EMAIL_VERIFY_SALT)
    link = f"{settings.FRONTEND_URL}/verify-email?token={token}"
    _send_mail(
        to=user.pending_email,
        subject="Confirm your EngiPay email",
        body=f"Confirm this address for your EngiPay account by opening:\n{link}\n\nThe link works for 3 days.",
    )


@transaction.atomic
def email_verify(*, token: str) -> User:
    try:
        claim = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:
        raise InvalidInput("invalid_verification_token", "The link is invalid or has expired.") from None
    user = User.objects.select_for_update().filter(pk=claim["u"], pending_email=claim["e"]).first()
    if user is None:
        raise InvalidInput("invalid_verification_token", "The link is invalid or has expired.")
    _promote_pending_email(user=user)
    return user


def _promote_pending_email(*, user: User) -> None:
    """The mailbox owner proved the address: it becomes this account's email, unless someone holds it."""
    if not user.pending_email:
        return
    if User.objects.filter(email__iexact=user.pending_email).exclude(pk=user.pk).exists():
        raise StateConflict("email_in_use", "This email already belongs to another account.")
    user.email, user.pending_email, user.is_email_verified = user.pending_email, None, True
    user.save(update_fields=["email", "pending_email", "is_email_verified", "updated_at"])


@functools.cache
def _dummy_password_hash() -> str:
    # Verifying against a throwaway hash keeps an unknown email as slow as a wrong password (no timing oracle).
    return make_password(secrets.token_urlsafe(16))


def _login_candidates(email: str) -> list[User]:
    verified = list(User.objects.filter(email__iexact=email, is_active=True)[:1])
    pending = User.objects.filter(email__isnull=True, pending_email__iexact=email, is_active=True)
    return verified + list(pending.order_by("-created_at")[:3])


def user_login(*, email: str, password: str) -> User:
    """Same answer, and about the same time, for an unknown email and a wrong password."""
    candidates = [u for u in _login_candidates(_normalize_email(email)) if u.has_usable_password()]
    if not candidates:
        check_password(password, _dummy_password_hash())
    for user in candidates:
        if user.check_password(password):
            _record_login(user=user)
            return user
    raise Unauthenticated("invalid_credentials", "Invalid email or password.")


def _record_login(*, user: User) -> None:
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=now, login_count=F("login_count") + 1)
    user.last_login = now


def password_reset_request(*, email: str) -> None:
    """Email a reset link if an account claims the address. Same outcome for the caller either way."""
    candidates = [u for u in _login_candidates(_normalize_email(email)) if u.has_usable_password()]
    if not candidates:
        return
    user = candidates[0]
    token = f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"
    link = f"{settings.FRONTEND_URL}/reset-password?token={token}"
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    _send_mail(
        to=user.email or user.pending_email,
        subject="Reset your EngiPay password",
        body=(
            "Someone asked to reset the password of your EngiPay account.\n\n"
            f"Open this link within {minutes} minutes to choose a new one:\n{link}\n\n"
            "If it was not you, ignore this email: your password stays as it is."
        ),
    )


@transaction.atomic
def password_reset_confirm(*, token: str, password: str) -> User:
    invalid = InvalidInput("invalid_reset_token", "The reset link is invalid or has expired.")
    uid_part, _, token_part = token.partition(".")
    try:
        user_id = force_str(urlsafe_base64_decode(uid_part))
        user = User.objects.select_for_update().get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist, DjangoValidationError):
        raise invalid from None
    # Django's token hashes the password and last_login: it dies as soon as the password changes.
    if not default_token_generator.check_token(user, token_part):
        raise invalid
    _validate_password(password, user)
    user.set_password(password)
    user.session_epoch += 1  # every token issued before the reset stops working
    user.save(update_fields=["password", "session_epoch", "updated_at"])
    # The link reached the mailbox, which proves the address.
    if user.pending_email and not User.objects.filter(email__iexact=user.pending_email).exists():
        _promote_pending_email(user=user)
    return user


# --- Tokens ----------------------------------------------------------------------------------------------


def tokens_issue(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh["sep"] = user.session_epoch
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError:
        raise Unauthenticated("invalid_refresh_token", "The refresh token is invalid, expired or revoked.") from None


def tokens_refresh(*, refresh: str) -> dict[str, str]:
    old = _refresh_token(refresh)
    user = User.objects.filter(pk=old.get("user_id"), is_active=True).first()
    if user is None or old.get("sep") != user.session_epoch:
        raise Unauthenticated("invalid_refresh_token", "The refresh token is invalid, expired or revoked.")
    old.blacklist()  # rotation: a refresh token works once
    return tokens_issue(user=user)


def tokens_revoke(*, user: User, refresh: str) -> None:
    token = _refresh_token(refresh)
    if str(token.get("user_id")) != str(user.pk):
        raise Unauthenticated("invalid_refresh_token", "The refresh token is invalid, expired or revoked.")
    token.blacklist()
