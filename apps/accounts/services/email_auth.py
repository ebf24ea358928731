"""Email and password: sign-up, login, email verification, password reset.

Nothing here tells a caller whether an address has an account. Mail goes out from a worker
(``tasks.account_email_send``), decided there, so the request does the same work whichever case it is.
"""

from __future__ import annotations

import functools
import secrets

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from apps.accounts import tasks
from apps.accounts.models import User
from apps.notifications.services import sessions_revoked
from engipay.api.errors import InvalidInput, StateConflict, Unauthenticated

EMAIL_VERIFY_SALT = "accounts.email-verify"
EMAIL_VERIFY_MAX_AGE = 3 * 24 * 3600
# Unproven claims on one address that a password login tries (newest first); bounded so a flood of sign-ups
# costs no more than a few hash checks. A pushed-out owner still verifies with their link, then logs in.
PENDING_LOGIN_CANDIDATES = 5


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput("weak_password", exc.messages[0], {"password": exc.messages}) from None


def _enqueue_email(kind: str, **params: str) -> None:
    # After commit: a rolled-back sign-up must not mail about an account that does not exist.
    transaction.on_commit(lambda: tasks.account_email_send.delay(kind=kind, **params))


@transaction.atomic
def user_signup(*, email: str, password: str) -> User:
    """Create an account whose email is a claim (``pending_email``) until the mailbox owner proves it.

    Same answer whether or not the address already belongs to someone; the worker mails the owner either a
    verification link (new address) or a warning (address already verified on another account).
    """
    email = normalize_email(email)
    _validate_password(password, User(pending_email=email))
    user = User.objects.create_user(password=password, pending_email=email)
    record_login(user=user)
    _enqueue_email("signup", user_id=str(user.pk))
    return user


def _send(*, to: str, subject: str, body: str) -> None:
    send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])


def signup_email_deliver(*, user_id: str) -> None:
    """Worker side of sign-up: verification link, or a warning to the address's verified owner."""
    user = User.objects.filter(pk=user_id, pending_email__isnull=False).first()
    if user is None:
        return
    if User.objects.filter(email__iexact=user.pending_email).exists():
        _send(
            to=user.pending_email,
            subject="Someone tried to sign up with your email",
            body=(
                "Someone tried to create an EngiPay account with this email address, which already has one.\n\n"
                f"If it was you, sign in or reset your password at {settings.FRONTEND_URL}.\n"
                "If not, you can ignore this email: your account is unchanged."
            ),
        )
        return
    token = signing.dumps({"u": str(user.pk), "e": user.pending_email}, salt=EMAIL_VERIFY_SALT)
    _send(
        to=user.pending_email,
        subject="Confirm your EngiPay email",
        body=(
            f"An EngiPay account was created with this address at {user.created_at:%Y-%m-%d %H:%M} UTC.\n"
            f"If it was you, confirm the address within 3 days:\n{settings.FRONTEND_URL}/verify-email?token={token}\n\n"
            "If it was not you, do not open the link: ignore this email and nothing happens."
        ),
    )


@transaction.atomic
def email_verify(*, token: str) -> User:
    invalid = InvalidInput("invalid_verification_token", "The link is invalid or has expired.")
    try:
        claim = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:
        raise invalid from None
    user = User.objects.select_for_update().filter(pk=claim["u"], pending_email=claim["e"]).first()
    if user is None:
        raise invalid
    if User.objects.filter(email__iexact=user.pending_email).exclude(pk=user.pk).exists():
        raise StateConflict("email_in_use", "This email already belongs to another account.")
    user.email, user.pending_email, user.is_email_verified = user.pending_email, None, True
    user.save(update_fields=["email", "pending_email", "is_email_verified", "updated_at"])
    return user


@functools.cache
def _dummy_password_hash() -> str:
    # Verifying against a throwaway hash keeps an unknown email as slow as a wrong password (no timing oracle).
    return make_password(secrets.token_urlsafe(16))


def _login_candidates(email: str) -> list[User]:
    verified = list(User.objects.filter(email__iexact=email, is_active=True)[:1])
    pending = User.objects.filter(email__isnull=True, pending_email__iexact=email, is_active=True)
    return verified + list(pending.order_by("-created_at")[:PENDING_LOGIN_CANDIDATES])


def user_login(*, email: str, password: str) -> User:
    """Same answer, and about the same time, for an unknown email and a wrong password."""
    candidates = [u for u in _login_candidates(normalize_email(email)) if u.has_usable_password()]
    if not candidates:
        check_password(password, _dummy_password_hash())
    for user in candidates:
        if user.check_password(password):
            record_login(user=user)
            return user
    raise Unauthenticated("invalid_credentials", "Invalid email or password.")


def record_login(*, user: User) -> None:
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=now, login_count=F("login_count") + 1)
    user.last_login = now


def password_reset_request(*, email: str) -> None:
    """Queue the reset mail; the worker decides whether there is anyone to send it to."""
    _enqueue_email("password_reset", email=normalize_email(email))


def password_reset_email_deliver(*, email: str) -> None:
    """Worker side: a reset link only to an address proven on an account (an unproven claim gets none, so a
    stranger who claimed someone's address can never have that person reset a password into his account)."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    token = f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    _send(
        to=user.email,
        subject="Reset your EngiPay password",
        body=(
            "Someone asked to reset the password of your EngiPay account.\n\n"
            f"Open this link within {minutes} minutes to choose a new one:\n"
            f"{settings.FRONTEND_URL}/reset-password?token={token}\n\n"
            "If it was not you, ignore this email: your password stays as it is."
        ),
    )


@transaction.atomic
def password_reset_confirm(*, token: str, password: str) -> User:
    invalid = InvalidInput("invalid_reset_token", "The reset link is invalid or has expired.")
    uid_part, _, token_part = token.partition(".")
    try:
        user_id = force_str(urlsafe_base64_decode(uid_part))
        user = User.objects.select_for_update().get(pk=user_id, is_active=True, email__isnull=False)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist, DjangoValidationError):
        raise invalid from None
    # Django's token hashes the password and last_login: it dies as soon as the password changes.
    if not default_token_generator.check_token(user, token_part):
        raise invalid
    _validate_password(password, user)
    user.set_password(password)
    user.session_epoch += 1  # every token issued before the reset stops working, sockets included
    user.save(update_fields=["password", "session_epoch", "updated_at"])
    sessions_revoked(user_id=user.pk)
    return user
