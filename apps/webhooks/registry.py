"""Who handles each webhook topic. apps.webhooks sits low in the layers and never imports the apps that own the
topics: they register a handler from their ``AppConfig.ready()``::

    webhook_handler_register("blockchain", blockchain_webhook_handle)

A handler receives one verified, deduplicated :class:`WebhookEvent` and returns a short result for the delivery log.
It runs inside the transaction that holds the delivery's row lock; it raises :class:`WebhookIgnored` when there is
nothing to do, ``UpstreamUnavailable``/``ChainUnavailable`` to be retried later, anything else to fail the delivery.
Handlers must be idempotent: staff may process a delivery again from the admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

TOPICS = ("blockchain", "prices", "defi")


@dataclass(frozen=True)
class WebhookEvent:
    """One accepted delivery: ``payload`` is the validated (and, for Alchemy, normalised) event."""

    delivery_id: str
    topic: str
    source: str
    event_id: str
    payload: dict[str, Any]
    received_at: datetime


class WebhookIgnored(Exception):
    """Raised by a handler for an authentic event it has nothing to do with; the message is the result."""


WebhookHandler = Callable[[WebhookEvent], str]

_handlers: dict[str, WebhookHandler] = {}


def webhook_handler_register(topic: str, handler: WebhookHandler) -> None:
    """Make ``handler`` the one handler of ``topic`` (idempotent; a second, different handler is a start-up error)."""
    if topic not in TOPICS:
        raise ImproperlyConfigured(f"Unknown webhook topic {topic!r}; topics are {', '.join(TOPICS)}.")
    current = _handlers.get(topic)
    if current is not None and current is not handler:
        raise ImproperlyConfigured(f"The webhook topic {topic!r} already has a handler ({current!r}).")
    _handlers[topic] = handler


def webhook_handler_unregister(topic: str, handler: WebhookHandler) -> None:
    if _handlers.get(topic) is handler:
        del _handlers[topic]


def webhook_handler_for(topic: str) -> WebhookHandler | None:
    return _handlers.get(topic)
