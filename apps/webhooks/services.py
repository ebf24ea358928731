"""Inbound webhooks: verify, store once, hand off to the app that owns the topic (DESIGN.md section 8, ``webhooks``).

Receiving (the web request) checks, in this order: body size → who signed → timestamp present → signature over the
raw bytes → timestamp fresh → topic allowed for the sender → JSON → payload shape → replay (event id). Every request
is stored, refused ones included (their body cut to REFUSED_BODY_MAX unless the signature was good). An accepted
delivery is queued after commit to ``webhooks.delivery_process``, which runs the registered handler under the
delivery's row lock; a webhook is only a hint, so handlers re-read the truth (the chain) before changing anything.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.webhooks import payloads, signing, tasks
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.registry import WebhookEvent, WebhookIgnored, webhook_handler_for
from engipay.api.errors import ApplicationError, InvalidInput, UpstreamUnavailable

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status

REFUSED_BODY_MAX = 4096
HEADERS_MAX = 64
HEADER_VALUE_MAX = 1024
PRIVATE_HEADERS = {"cookie", "authorization", "proxy-authorization"}
RESULT_MAX = 20_000
PURGE_BATCH = 5000
MAX_RECORDED_SIZE = 2**63 - 1


@dataclass(frozen=True)
class Inbound:
    """One request to a webhook endpoint. ``body`` is None when it was larger than WEBHOOK_MAX_BYTES (not read);
    ``size`` is then the declared length, or at least one byte over the limit."""

    topic: str
    body: bytes | None
    size: int
    headers: Mapping[str, str]
    remote_addr: str | None


@dataclass(frozen=True)
class Receipt:
    delivery_id: str
    duplicate: bool
    status: str


@dataclass
class _Progress:
    delivery: WebhookDelivery
    authentic: bool = False


def webhook_delivery_receive(*, inbound: Inbound) -> Receipt:
    """Verify and store one delivery. A refusal is stored, then raised (``ApplicationError``, its status set)."""
    delivery = WebhookDelivery(
        topic=inbound.topic,
        headers=_loggable_headers(inbound.headers),
        remote_addr=_ip(inbound.remote_addr),
        body_size=min(max(inbound.size, 0), MAX_RECORDED_SIZE),  # a declared length is whatever the client says
    )
    progress = _Progress(delivery)
    try:
        payload = _verify(progress, inbound)
    except ApplicationError as exc:
        _refusal_store(delivery, inbound.body, exc, authentic=progress.authentic)
        raise
    return _accept(delivery, inbound.body, payload)


def _verify(progress: _Progress, inbound: Inbound) -> dict[str, Any]:
    """The checks, in order; returns the validated payload or raises the first refusal."""
    if inbound.body is None:
        limit = settings.WEBHOOK_MAX_BYTES
        raise signing.PayloadTooLarge("payload_too_large", f"Webhook bodies are at most {limit} bytes.", {"max": limit})
    if not signing.endpoint_configured(inbound.topic):
        raise signing.WebhookNotConfigured(
            "webhook_not_configured", f"No sender is configured for the {inbound.topic} webhook on this server."
        )
    if inbound.headers.get(signing.SOURCE_HEADER):
        return _verify_ours(progress, inbound, inbound.body)
    if inbound.topic == signing.ALCHEMY_TOPIC and signing.ALCHEMY_SIGNATURE_HEADER in inbound.headers:
        return _verify_alchemy(progress, inbound, inbound.body)
    alchemy = f" (or {signing.ALCHEMY_SIGNATURE_HEADER})" if inbound.topic == signing.ALCHEMY_TOPIC else ""
    raise InvalidInput(
        "missing_signature",
        f"Sign with {signing.SOURCE_HEADER}, {signing.TIMESTAMP_HEADER} and {signing.SIGNATURE_HEADER}{alchemy}.",
    )


def _verify_ours(progress: _Progress, inbound: Inbound, body: bytes) -> dict[str, Any]:
    source = signing.engipay_source(inbound.headers)
    progress.delivery.source = source.name
    timestamp = signing.engipay_timestamp(inbound.headers)
    signing.engipay_signature_verify(source=source, headers=inbound.headers, timestamp=timestamp, body=body)
    progress.authentic = True
    signing.freshness_check(signed_at=timestamp, now=timezone.now().timestamp())
    if inbound.topic not in source.topics:
        raise signing.TopicNotAllowed("topic_not_allowed", f"{source.name} may not send {inbound.topic} webhooks.")
    data = _json(body)
    progress.delivery.event_id = payloads.claimed_event_id(data)
    return _normalised(inbound.topic, data)


def _verify_alchemy(progress: _Progress, inbound: Inbound, body: bytes) -> dict[str, Any]:
    """Alchemy signs the body only: its timestamp (``createdAt``) can be read, and trusted, only after the
    signature and the JSON."""
    progress.delivery.source = signing.alchemy_source()
    signing.alchemy_signature_verify(headers=inbound.headers, body=body)
    progress.authentic = True
    data = _json(body)
    progress.delivery.event_id = payloads.claimed_event_id(data)
    created_at = payloads.parse_iso_datetime(data.get("createdAt") if isinstance(data, dict) else None)
    signing.freshness_check(signed_at=signing.alchemy_signed_at(created_at), now=timezone.now().timestamp())
    return payloads.alchemy_payload(data, networks=settings.ALCHEMY_NETWORKS)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInput("malformed_json", "The body is not JSON (UTF-8).") from None


def _normalised(topic: str, data: Any) -> dict[str, Any]:
    if topic == WebhookDelivery.Topic.BLOCKCHAIN:
        return payloads.blockchain_payload(data)
    if topic == WebhookDelivery.Topic.PRICES:
        return payloads.prices_payload(data)
    return payloads.defi_payload(data)


def _accept(delivery: WebhookDelivery, body: bytes, payload: dict[str, Any]) -> Receipt:
    delivery.event_id = payload["id"]
    original = _accepted(delivery)
    if original is None:
        delivery.verdict, delivery.payload = WebhookDelivery.ACCEPTED, payload
        delivery.status, delivery.result = _initial_status(delivery.topic, payload)
        if delivery.status != Status.QUEUED:
            delivery.processed_at = timezone.now()
        _body_keep(delivery, body, limit=None)
        try:
            with transaction.atomic():
                delivery.save(force_insert=True)
        except IntegrityError:  # the same event delivered twice at once: the other request stored it first
            original = _accepted(delivery)
            if original is None:
                raise
        else:
            if delivery.status == Status.QUEUED:
                transaction.on_commit(partial(_enqueue, str(delivery.pk)))
            logger.info(
                "Webhook %s %s from %s: %s", delivery.topic, delivery.event_id, delivery.source, delivery.status
            )
            return Receipt(delivery_id=str(delivery.pk), duplicate=False, status=delivery.status)
    WebhookDelivery.objects.create(
        topic=delivery.topic,
        source=delivery.source,
        event_id=delivery.event_id,
        verdict=WebhookDelivery.DUPLICATE,
        status=Status.IGNORED,
        result=f"Duplicate of delivery {original.pk}: not processed again.",
        duplicate_of=original,
        headers=delivery.headers,
        remote_addr=delivery.remote_addr,
        body_size=delivery.body_size,
        **_body_fields(body, limit=REFUSED_BODY_MAX),
    )
    return Receipt(delivery_id=str(original.pk), duplicate=True, status=original.status)


def _accepted(delivery: WebhookDelivery) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(
        source=delivery.source, event_id=delivery.event_id, verdict=WebhookDelivery.ACCEPTED
    ).first()


def _initial_status(topic: str, payload: dict[str, Any]) -> tuple[str, str]:
    if payload.get("ignored"):
        return Status.IGNORED, payload["ignored"]
    if webhook_handler_for(topic) is None:
        return Status.UNHANDLED, f"No app handles {topic} webhooks yet: kept, to be processed again once one does."
    return Status.QUEUED, ""


def _refusal_store(delivery: WebhookDelivery, body: bytes | None, exc: ApplicationError, *, authentic: bool) -> None:
    delivery.verdict, delivery.status = exc.code, Status.IGNORED
    details = f"\n{json.dumps(exc.details, sort_keys=True)}" if exc.details else ""
    delivery.result = (exc.message + details)[:RESULT_MAX]
    _body_keep(delivery, body, limit=None if authentic else REFUSED_BODY_MAX)
    delivery.save(force_insert=True)
    logger.info("Webhook %s refused (%s) from %s", delivery.topic, exc.code, delivery.remote_addr)


def _body_fields(body: bytes | None, *, limit: int | None) -> dict[str, Any]:
    if body is None:
        return {"body": "", "body_truncated": False}
    kept = body if limit is None else body[:limit]
    # Postgres text holds no NUL; a valid JSON body has none outside its escapes anyway.
    text = kept.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return {"body": text, "body_truncated": len(kept) < len(body)}


def _body_keep(delivery: WebhookDelivery, body: bytes | None, *, limit: int | None) -> None:
    for field, value in _body_fields(body, limit=limit).items():
        setattr(delivery, field, value)


def _loggable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name, value in list(headers.items())[:HEADERS_MAX]:
        if name.lower() not in PRIVATE_HEADERS:
            kept[name] = str(value)[:HEADER_VALUE_MAX].replace("\x00", "")
    return kept


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _enqueue(delivery_id: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(enqueued_at=timezone.now())
    try:
        tasks.delivery_process.delay(delivery_id)
    except Exception:  # the broker is down: the row stays queued and the sweep sends it again
        logger.warning("Could not queue webhook delivery %s; the sweep will", delivery_id, exc_info=True)


# --- processing (the worker) -----------------------------------------------------------------------------------


def webhook_delivery_process(*, delivery_id: str) -> WebhookDelivery | None:
    """Run the topic's handler for one accepted delivery that is queued (or failed on a transient error); any other
    delivery is left alone, so a repeated task changes nothing. Raises ``UpstreamUnavailable`` after recording it,
    for the task to retry."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or not delivery.accepted:
            return delivery
        if delivery.status != Status.QUEUED and not (delivery.status == Status.FAILED and delivery.retriable):
            return delivery
        transient = _run_handler(delivery)
    if transient is not None:
        raise transient
    return delivery


def _run_handler(delivery: WebhookDelivery) -> UpstreamUnavailable | None:
    """Caller holds the delivery's row lock."""
    payload = delivery.payload or {}
    if payload.get("ignored"):
        _finish(delivery, Status.IGNORED, payload["ignored"])
        return None
    handler = webhook_handler_for(delivery.topic)
    if handler is None:
        _finish(delivery, Status.UNHANDLED, _initial_status(delivery.topic, payload)[1])
        return None
    delivery.attempts += 1
    event = WebhookEvent(
        delivery_id=str(delivery.pk),
        topic=delivery.topic,
        source=delivery.source,
        event_id=delivery.event_id,
        payload=payload,
        received_at=delivery.received_at,
    )
    try:
        with transaction.atomic():  # a failing handler leaves nothing behind
            result = handler(event)
    except WebhookIgnored as exc:
        _finish(delivery, Status.IGNORED, str(exc))
    except UpstreamUnavailable as exc:
        _finish(delivery, Status.FAILED, f"Attempt {delivery.attempts} failed, will retry: {exc.message}", retry=True)
        return exc
    except ApplicationError as exc:
        _finish(delivery, Status.FAILED, f"{exc.code}: {exc.message}")
    except Exception as exc:  # a bug in a handler must not leave the delivery looking queued forever
        logger.exception("Webhook delivery %s (%s) crashed its handler", delivery.pk, delivery.topic)
        _finish(delivery, Status.FAILED, f"Internal error: {type(exc).__name__}")
    else:
        _finish(delivery, Status.PROCESSED, str(result or ""))
    return None


def _finish(delivery: WebhookDelivery, status: str, result: str, *, retry: bool = False) -> None:
    delivery.status, delivery.result, delivery.retriable = status, result[:RESULT_MAX], retry
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "result", "retriable", "attempts", "processed_at"])
    logger.info("Webhook delivery %s (%s): %s", delivery.pk, delivery.topic, status)


def webhook_delivery_give_up(*, delivery_id: str, reason: str) -> None:
    """The task's retries are spent: the delivery stays failed, and no longer retriable (staff may process it
    again from the admin)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status != Status.FAILED or not delivery.retriable:
            return
        _finish(delivery, Status.FAILED, f"Gave up after {delivery.attempts} attempts: {reason}")


def webhook_deliveries_requeue(*, delivery_ids: Iterable[Any]) -> int:
    """Admin "Process again": accepted deliveries go back to queued, and a task is sent for each after commit.
    Refused and duplicate deliveries are skipped. Returns how many were queued."""
    with transaction.atomic():
        rows = WebhookDelivery.objects.select_for_update().filter(pk__in=list(delivery_ids))
        ids = [
            str(pk) for pk in rows.filter(verdict=WebhookDelivery.ACCEPTED).order_by("pk").values_list("pk", flat=True)
        ]
        WebhookDelivery.objects.filter(pk__in=ids).update(status=Status.QUEUED, retriable=False)
        for delivery_id in ids:
            transaction.on_commit(partial(_enqueue, delivery_id))
    return len(ids)


def webhook_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue again accepted deliveries still queued WEBHOOK_SWEEP_GRACE_SECONDS after their task was sent (the
    broker was down then, or the task was lost). A task that was only slow finds the row done and does nothing."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    due = WebhookDelivery.objects.filter(status=Status.QUEUED, verdict=WebhookDelivery.ACCEPTED)
    due = due.filter(Q(enqueued_at__isnull=True, received_at__lt=grace) | Q(enqueued_at__lt=grace))
    ids = [str(pk) for pk in due.order_by("received_at").values_list("pk", flat=True)[:limit]]
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)


def webhook_deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete deliveries received more than WEBHOOK_RETENTION_DAYS ago (in batches); returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(WebhookDelivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[1].get(WebhookDelivery._meta.label, 0)
