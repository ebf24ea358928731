from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from apps.notifications import deliveries, preferences, services
from apps.notifications.channels.base import DeliveryError, TransientDeliveryError

logger = logging.getLogger(__name__)


@shared_task(name="notifications.notification_send")
def notification_send(
    *, user_id: str, kind: str, title: str, message: str = "", data: dict[str, Any] | None = None
) -> str | None:
    """Notify from a worker (e.g. a chain tracker); the push crosses processes through the channel layer."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return str(services.notify(user=user, kind=kind, title=title, message=message, data=data).id)


@shared_task(bind=True, name="notifications.delivery_send", max_retries=None)
def delivery_send(self: Task, *, delivery_id: str) -> str:
    """One email / web push / SMS; retried with backoff on transient errors (the row counts the attempts)."""
    attempt = deliveries.delivery_attempt(delivery_id=delivery_id)
    if attempt.retry_in is not None:
        raise self.retry(countdown=attempt.retry_in)
    return attempt.outcome


@shared_task(name="notifications.deliveries_sweep")
def deliveries_sweep() -> int:
    """Beat: deliveries due after quiet hours or a long backoff, and those whose task was lost."""
    return deliveries.deliveries_sweep()


@shared_task(bind=True, name="notifications.email_confirmation_send", max_retries=5, default_retry_delay=60)
def email_confirmation_send(self: Task, *, user_id: str) -> bool:
    """Mail a confirmation link to the notification address a user gave (nothing else is sent there first)."""
    from apps.notifications.channels import email
    from apps.notifications.models import NotificationPreference

    pref = NotificationPreference.objects.filter(user_id=user_id, email_verified_at__isnull=True).first()
    if pref is None or not pref.email:
        return False
    token = preferences.email_confirmation_token(pref)
    url = f"{settings.PUBLIC_BASE_URL}/api/notifications/email/confirm?token={token}"
    try:
        email.send_email(
            to=pref.email,
            subject="Confirm your email for EngiPay notifications",
            template="notifications/email/confirm_email",
            context={"confirm_url": url},
        )
    except DeliveryError as exc:
        logger.warning("Confirmation email for user %s not sent: %s", user_id, exc.reason)
        raise self.retry() from None
    return True


@shared_task(bind=True, name="notifications.phone_code_send", max_retries=3, default_retry_delay=30)
def phone_code_send(self: Task, *, user_id: str) -> bool:
    """Text a 6-digit code to the phone a user gave; ``POST /api/notifications/phone/verify`` checks it."""
    from apps.notifications.channels import sms

    # A retry follows a send that failed: its code never arrived, so the resend guard must not stop a new one.
    issued = preferences.phone_code_issue(user_id=user_id, resend_guard=self.request.retries == 0)
    if issued is None:
        return False
    phone, code = issued
    minutes = max(1, settings.PHONE_CODE_TTL_SECONDS // 60)
    try:
        sms.sms_send_text(to=phone, body=f"Your EngiPay code: {code}. It expires in {minutes} minutes.")
    except TransientDeliveryError as exc:
        logger.warning("Phone code for user %s not sent yet: %s", user_id, exc.reason)
        raise self.retry(countdown=max(30, exc.retry_after or 0)) from None
    except DeliveryError as exc:  # the number is invalid or SMS is not configured: retrying cannot help
        logger.warning("Phone code for user %s not sent: %s", user_id, exc.reason)
        return False
    return True
