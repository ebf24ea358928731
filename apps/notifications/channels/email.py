"""Email through Django's configured backend (SMTP in production, console/file in development).

Plain text and HTML from ``templates/notifications/email/``; every message carries a signed unsubscribe link
for its topic (in the body and as RFC 8058 one-click ``List-Unsubscribe`` headers) and a link to switch all
notification emails off.
"""

from __future__ import annotations

import smtplib
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from .. import catalog
from ..models import Delivery
from ..preferences import unsubscribe_token
from .base import PermanentDeliveryError, SendResult, TransientDeliveryError


def unsubscribe_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/notifications/unsubscribe?token={quote(token)}"


def send_email(*, to: str, subject: str, template: str, context: dict, headers: dict | None = None) -> None:
    """Render ``template``.txt/.html and send; SMTP outcomes become delivery errors (4xx and network: transient;
    5xx for the recipient or the message: bounced; other 5xx: failed)."""
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=headers or {})
    message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in exc.recipients.values())
        if any(400 <= code < 500 for code in codes):
            raise TransientDeliveryError(f"Recipient deferred: {detail}") from None
        raise PermanentDeliveryError(f"Recipient refused: {detail}", bounced=True) from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        reply = f"{exc.smtp_code} {text}"
        if 400 <= exc.smtp_code < 500:
            raise TransientDeliveryError(f"SMTP server deferred: {reply}") from None
        if isinstance(exc, smtplib.SMTPDataError):
            raise PermanentDeliveryError(f"Message refused: {reply}", bounced=True) from None
        raise PermanentDeliveryError(f"SMTP error: {reply}") from None
    except (smtplib.SMTPException, OSError) as exc:  # connection refused, timeout, server went away
        raise TransientDeliveryError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from None


def send(delivery: Delivery) -> SendResult:
    notification = delivery.notification
    topic = catalog.topic_of(notification.kind)
    topic_link = unsubscribe_url(unsubscribe_token(user_id=delivery.user_id, topic=topic.key))
    context = {
        "notification": notification,
        "topic": topic,
        "data_items": [(key, value) for key, value in notification.data.items() if isinstance(value, str | int)],
        "unsubscribe_url": topic_link,
        "unsubscribe_all_url": unsubscribe_url(unsubscribe_token(user_id=delivery.user_id, topic=None)),
        "frontend_url": settings.FRONTEND_URL,
    }
    headers = {
        "List-Unsubscribe": f"<{topic_link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-EngiPay-Delivery": str(delivery.pk),
    }
    send_email(
        to=delivery.target,
        subject=notification.title,
        template="notifications/email/notification",
        context=context,
        headers=headers,
    )
    return SendResult(provider_message_id="")


def connection_check() -> None:
    """Open and close a connection to the configured backend (health checks, the admin)."""
    with get_connection(fail_silently=False):
        pass
