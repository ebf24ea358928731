"""The contract between the delivery loop (``apps/notifications/deliveries.py``) and each channel.

A channel's ``send(delivery)`` delivers one ``Delivery`` (its notification, user and target are loaded) and
returns a ``SendResult``; it raises ``TransientDeliveryError`` for what may work later (timeouts, 429, 5xx, a
4xx SMTP reply) and ``PermanentDeliveryError`` for what never will: ``bounced=True`` when the target itself is
gone or refused (push subscription 404/410, SMTP 5xx for the recipient, Twilio 21211/21610/21614), else False
(configuration or payload problems). Channels never touch the Delivery row: the loop records the outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:2000]


class TransientDeliveryError(DeliveryError):
    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    def __init__(self, reason: str, *, bounced: bool = False) -> None:
        super().__init__(reason)
        self.bounced = bounced


def retry_after_seconds(value: str | None) -> int | None:
    """A ``Retry-After`` header (delay-seconds or an HTTP-date, RFC 9110 section 10.2.3) as whole seconds from now;
    None when absent or unreadable. A date in the past is 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 5322 "-0000": UTC by HTTP's rules
        moment = moment.replace(tzinfo=UTC)
    return max(0, math.ceil((moment - datetime.now(tz=UTC)).total_seconds()))
