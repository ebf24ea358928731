"""Web push (RFC 8030 protocol, RFC 8291 encryption, RFC 8292 VAPID) through pywebpush.

The payload is what the frontend's service worker shows: ``{"id", "type", "title", "message", "data", "url"}``
as UTF-8 JSON, kept under ``MAX_PAYLOAD_BYTES`` (push services take 4096 bytes of encrypted body, about 3,990 of
plaintext): ``data`` is dropped first, then the message is shortened. The push service's answer decides the
outcome: 201/202 sent (its ``Location`` is the message id); 404/410 the subscription is gone (bounced: the loop
deletes it); 429, 5xx, timeouts and connection errors are retried (``Retry-After`` honoured); anything else (400,
401/403 VAPID refused, 413) fails without retry, with the service's reason.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid02, VapidException
from pywebpush import WebPushException, webpush

from .. import catalog, vapid
from ..models import Delivery, PushSubscription
from .base import PermanentDeliveryError, SendResult, TransientDeliveryError, retry_after_seconds

MAX_PAYLOAD_BYTES = 3000
ELLIPSIS = "…"
# RFC 8030 section 5.3: how eagerly a device should wake for it (battery); topics not listed are "normal".
URGENCY_BY_TOPIC = {
    "transaction_failed": "high",
    "price_alert": "high",
    "transaction_pending": "low",
    "other": "low",
}


def payload_for(delivery: Delivery) -> bytes:
    """The push message body: the notification as the service worker shows it, at most ``MAX_PAYLOAD_BYTES``."""
    notification = delivery.notification
    payload: dict[str, Any] = {
        "id": str(notification.id),
        "type": notification.kind,
        "title": notification.title,
        "message": notification.message,
        "data": notification.data,
        "url": settings.FRONTEND_URL,
    }
    encoded = _encode(payload)
    if len(encoded) <= MAX_PAYLOAD_BYTES:
        return encoded
    payload["data"] = {}
    encoded = _encode(payload)
    while len(encoded) > MAX_PAYLOAD_BYTES and payload["message"]:
        # Escaping can make the JSON longer than the text: cut by the overflow, re-encode, repeat until it fits.
        text = payload["message"].removesuffix(ELLIPSIS).encode()
        keep = max(0, len(text) - (len(encoded) - MAX_PAYLOAD_BYTES) - len(ELLIPSIS.encode()))
        shorter = text[:keep].decode(errors="ignore").rstrip()
        payload["message"] = shorter + ELLIPSIS if shorter else ""
        encoded = _encode(payload)
    return encoded


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def subscription_info(subscription: PushSubscription) -> dict[str, Any]:
    """The browser's ``PushSubscription.toJSON()``, as pywebpush takes it."""
    return {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}


def _keys_usable(subscription: PushSubscription) -> bool:
    """Whether the subscription's keys are a P-256 point and a 16-byte secret (else nothing can be encrypted)."""
    try:
        point = vapid.b64url_decode(subscription.p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        return len(point) == 65 and len(vapid.b64url_decode(subscription.auth)) == 16
    except ValueError:
        return False


def endpoint_allowed(endpoint: str) -> bool:
    """The endpoint is still a configured push service (checked again at send time: we POST to a URL a browser
    gave us, and the allowed hosts may have changed since it subscribed)."""
    parts = urlsplit(endpoint)
    schemes = {"https", "http"} if settings.WEB_PUSH_ALLOW_HTTP else {"https"}
    host = (parts.hostname or "").lower()
    return (
        parts.scheme in schemes
        and not parts.username
        and not parts.password
        and any(
            host == entry or (entry.startswith(".") and host.endswith(entry))
            for entry in settings.WEB_PUSH_ENDPOINT_HOSTS
        )
    )


def send(delivery: Delivery) -> SendResult:
    subscription = delivery.push_subscription
    if subscription is None:
        raise PermanentDeliveryError("The push subscription was removed.", bounced=True)
    if not endpoint_allowed(subscription.endpoint):
        raise PermanentDeliveryError(
            f"The push endpoint's host {urlsplit(subscription.endpoint).hostname} is not an allowed push service "
            "(WEB_PUSH_ENDPOINT_HOSTS)."
        )  # not bounced: a narrowed setting must not delete every subscription it no longer matches
    if not _keys_usable(subscription):
        raise PermanentDeliveryError("The subscription's keys are not a valid P-256 key and auth secret.", bounced=True)
    try:
        signer, claims = vapid.vapid_key(), vapid.claims()
    except vapid.VapidKeyError as exc:
        raise PermanentDeliveryError(f"Web push is misconfigured: {exc}") from None
    topic = catalog.topic_of(delivery.notification.kind).key
    with requests.Session() as session:
        # Push services answer directly; a redirect would send the message (and our VAPID token) elsewhere.
        session.max_redirects = 0
        response = _post(delivery, subscription, signer, claims, topic, session)
    return SendResult(provider_message_id=response.headers.get("Location", ""))


def _post(
    delivery: Delivery,
    subscription: PushSubscription,
    signer: Vapid02,
    claims: dict[str, str],
    topic: str,
    session: requests.Session,
) -> requests.Response:
    try:
        return webpush(
            subscription_info(subscription),
            data=payload_for(delivery).decode(),
            vapid_private_key=signer,
            vapid_claims=claims,
            ttl=settings.WEB_PUSH_TTL_SECONDS,
            timeout=settings.WEB_PUSH_TIMEOUT_SECONDS,
            headers={"Urgency": URGENCY_BY_TOPIC.get(topic, "normal")},
            requests_session=session,
        )
    except WebPushException as exc:
        if exc.response is None:
            raise PermanentDeliveryError(f"Push not sent: {exc.message}") from None
        raise _refusal(exc.response) from None
    except VapidException as exc:
        raise PermanentDeliveryError(f"Web push is misconfigured: {exc}") from None
    except requests.Timeout:
        raise TransientDeliveryError(
            f"The push service did not answer within {settings.WEB_PUSH_TIMEOUT_SECONDS}s."
        ) from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise TransientDeliveryError(f"The push service is unreachable: {type(exc).__name__}.") from None
    except requests.TooManyRedirects:
        raise PermanentDeliveryError("The push service answered with a redirect, which is not followed.") from None
    except requests.RequestException as exc:
        raise PermanentDeliveryError(f"Push not sent: {type(exc).__name__}: {exc}") from None


def _refusal(response: requests.Response) -> Exception:
    status = response.status_code
    reason = f"The push service answered {status}{_service_reason(response)}"
    if status in (404, 410):
        return PermanentDeliveryError(f"{reason} (the subscription expired or was withdrawn).", bounced=True)
    if status == 429 or status >= 500:
        return TransientDeliveryError(reason, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    return PermanentDeliveryError(reason)


def _service_reason(response: requests.Response) -> str:
    """The push service's own words: Mozilla's JSON ``message``/``error``, FCM's text, else the HTTP reason."""
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        found = body.get("message") or body.get("error") or body.get("reason")
        if isinstance(found, dict):  # {"error": {"message": ...}}
            found = found.get("message")
        if found:
            return f": {str(found)[:300]}"
    if text and not text.startswith("<"):
        return f": {text[:300]}"
    return f" {response.reason}" if response.reason else ""
