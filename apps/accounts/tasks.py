from __future__ import annotations

import logging

from celery import shared_task

from apps.accounts import services

logger = logging.getLogger(__name__)


@shared_task(name="accounts.sign_in_nonce_cleanup")
def sign_in_nonce_cleanup() -> int:
    deleted = services.sign_in_nonce_cleanup()
    logger.info("Deleted %s expired sign-in nonces", deleted)
    return deleted
