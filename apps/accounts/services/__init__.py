"""Accounts services (writes). Import the package: ``from apps.accounts import services``."""

from .email_auth import (
    email_verify,
    normalize_email,
    password_reset_confirm,
    password_reset_email_deliver,
    password_reset_request,
    record_login,
    signup_email_deliver,
    user_login,
    user_signup,
)
from .tokens import tokens_issue, tokens_refresh, tokens_revoke
from .wallets import (
    sign_in_nonce_cleanup,
    sign_in_nonce_consume,
    sign_in_nonce_issue,
    wallet_link,
    wallet_sign_in,
)

__all__ = [
    "email_verify",
    "normalize_email",
    "password_reset_confirm",
    "password_reset_email_deliver",
    "password_reset_request",
    "record_login",
    "sign_in_nonce_cleanup",
    "sign_in_nonce_consume",
    "sign_in_nonce_issue",
    "signup_email_deliver",
    "tokens_issue",
    "tokens_refresh",
    "tokens_revoke",
    "user_login",
    "user_signup",
    "wallet_link",
    "wallet_sign_in",
]
