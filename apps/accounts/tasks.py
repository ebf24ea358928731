from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from apps.accounts import services

logger = logging.getLogger(__name__)


@shared_task(name="accounts.sign_in_nonce_cleanup")
def sign_in_nonce_cleanup() -> int:
    deleted = services.sign_in_nonce_cleanup()
    logger.info("Deleted %s expired sign-in nonces", deleted)
    return deleted


@shared_task(
    name="accounts.account_email_send",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def account_email_send(*, kind: str, user_id: str = "", email: str = "") -> None:
    """Sign-up and password-reset mail, sent outside the request so that its timing and its failures reveal
    nothing about which addresses have accounts."""
    if kind == "signup":
        services.signup_email_deliver(user_id=user_id)
    elif kind == "password_reset":
        services.password_reset_email_deliver(email=email)
    else:
        logger.error("Unknown account email kind %r", kind)
