"""Inbound webhooks: verify, store once, hand off to the app that owns the topic (DESIGN.md section 8, ``webhooks``).

Receiving (the web request) checks, in this order: body size → who signed → timestamp present → signature over the
raw bytes → timestamp fresh → topic allowed for the sender → JSON → payload shape → replay (event id, per sender and
topic). Every request that reaches the view is stored, refused ones included (their body cut to REFUSED_BODY_MAX
unless the signature was good); a body over WEBHOOK_MAX_BYTES is refused before Django when served over ASGI
(engipay/body_limit.py), and by the view otherwise. An accepted delivery is queued after commit to
``webhooks.delivery_process``, which runs the registered handler under the delivery's row lock; a webhook is only a
hint, so handlers re-read the truth (the chain) before changing anything. A transient failure is retried by the task
with backoff, and by the sweep if that retry was lost.
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

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
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
# A transient failure is tried again after a random wait of up to RETRY_FACTOR * 2^(attempts - 1) seconds, capped.
RETRY_FACTOR = 5
RETRY_MAX_SECONDS = 300
# Errors a handler may meet that say nothing about the event: a chain or provider down, the task's soft time limit,
# the database gone or locked (OperationalError: connection lost, lock or statement timeout, deadlock).
TRANSIENT_ERRORS = (UpstreamUnavailable, SoftTimeLimitExceeded, OperationalError)


class DeliveryRetryLater(Exception):
    """Raised by :func:`webhook_delivery_process` once a transient failure is recorded (failed, retriable, with
    ``next_attempt_at``): the task sends itself again ``countdown`` seconds later. The handler's error is the
    ``__cause__``."""

    def __init__(self, reason: str, *, countdown: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.countdown = countdown


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
    signing.freshness_check(
        signed_at=signing.alchemy_signed_at(created_at),
        now=timezone.now().timestamp(),
        max_age=signing.alchemy_max_age(),  # its retries keep createdAt: the event id is the replay guard
    )
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
        source=delivery.source, topic=delivery.topic, event_id=delivery.event_id, verdict=WebhookDelivery.ACCEPTED
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
    delivery is left alone, so a repeated task changes nothing. Raises :class:`DeliveryRetryLater` after recording a
    transient failure, for the task to retry."""
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


def _run_handler(delivery: WebhookDelivery) -> DeliveryRetryLater | None:
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
    except TRANSIENT_ERRORS as exc:
        reason = _transient_reason(exc)
        if not isinstance(exc, UpstreamUnavailable):
            logger.warning("Webhook delivery %s (%s): transient %s", delivery.pk, delivery.topic, reason, exc_info=True)
        countdown = get_exponential_backoff_interval(
            factor=RETRY_FACTOR, retries=max(delivery.attempts - 1, 0), maximum=RETRY_MAX_SECONDS, full_jitter=True
        )
        _finish(
            delivery, Status.FAILED, f"Attempt {delivery.attempts} failed, will retry: {reason}", retry_in=countdown
        )
        retry = DeliveryRetryLater(reason, countdown=countdown)
        retry.__cause__ = exc
        return retry
    except ApplicationError as exc:
        _finish(delivery, Status.FAILED, f"{exc.code}: {exc.message}")
    except Exception as exc:  # a bug in a handler must not leave the delivery looking queued forever
        logger.exception("Webhook delivery %s (%s) crashed its handler", delivery.pk, delivery.topic)
        _finish(delivery, Status.FAILED, f"Internal error: {type(exc).__name__}")
    else:
        _finish(delivery, Status.PROCESSED, str(result or ""))
    return None


def _transient_reason(exc: Exception) -> str:
    if isinstance(exc, UpstreamUnavailable):
        return exc.message
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the handler ran past the task's soft time limit"
    return f"database unavailable ({type(exc).__name__})"  # its text may name hosts: kept to the worker's log


def _finish(delivery: WebhookDelivery, status: str, result: str, *, retry_in: int | None = None) -> None:
    """``retry_in``: failed on a transient error, to be tried again this many seconds from now."""
    delivery.status, delivery.result, delivery.retriable = status, result[:RESULT_MAX], retry_in is not None
    delivery.processed_at = timezone.now()
    delivery.next_attempt_at = None if retry_in is None else delivery.processed_at + timedelta(seconds=retry_in)
    delivery.save(update_fields=["status", "result", "retriable", "attempts", "processed_at", "next_attempt_at"])
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
        WebhookDelivery.objects.filter(pk__in=ids).update(status=Status.QUEUED, retriable=False, next_attempt_at=None)
        for delivery_id in ids:
            transaction.on_commit(partial(_enqueue, delivery_id))
    return len(ids)


def webhook_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue again accepted deliveries still queued WEBHOOK_SWEEP_GRACE_SECONDS after their task was sent (the
    broker was down then, or the task was lost), and deliveries that failed on a transient error and are still
    retriable WEBHOOK_SWEEP_GRACE_SECONDS after their retry was due (the retry could not be sent, or the worker died
    first). Neither is sent again within the grace period of the last send. A task that was only slow finds the row
    done and does nothing."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    queued = Q(status=Status.QUEUED) & Q(Q(enqueued_at__isnull=True, received_at__lt=grace) | Q(enqueued_at__lt=grace))
    retry_lost = Q(status=Status.FAILED, retriable=True, next_attempt_at__lt=grace) & Q(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=grace)
    )
    due = WebhookDelivery.objects.filter(queued | retry_lost, verdict=WebhookDelivery.ACCEPTED)
    ids = [str(pk) for pk in due.order_by("received_at").values_list("pk", flat=True)[:limit]]
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)


def webhook_deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete deliveries received more than WEBHOOK_RETENTION_DAYS ago (in batches); returns how many. The cut-off
    is WEBHOOK_TOLERANCE_SECONDS later still: an event may be signed that far ahead of its arrival, and its id must
    outlive every replay its signed time lets in (Alchemy's createdAt: up to the retention old)."""
    retention = timedelta(days=settings.WEBHOOK_RETENTION_DAYS, seconds=settings.WEBHOOK_TOLERANCE_SECONDS)
    cutoff = (now or timezone.now()) - retention
    deleted = 0
    while True:
        ids = list(WebhookDelivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[1].get(WebhookDelivery._meta.label, 0)
