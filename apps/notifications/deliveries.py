"""Email, web push and SMS deliveries: planned by ``notify()``, sent by Celery, each with a status for the admin.

A ``Delivery`` row is written in the caller's transaction (so a rolled-back action sends nothing) and its task is
queued after commit; a failure to queue is only logged: the beat sweep (``deliveries_sweep``) queues every due
delivery whose task was lost, and the ones that waited for the end of the user's quiet hours. ``delivery_attempt``
is idempotent: it locks the row and only acts on a queued delivery that is due, so a task that runs twice sends
once (a worker killed between the provider's acceptance and our commit can send twice: at least once, never lost).
"""

from __future__ import annotations

import importlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import preferences
from .channels.base import PermanentDeliveryError, SendResult, TransientDeliveryError
from .models import Channel, Delivery, Notification, NotificationPreference, PushSubscription

logger = logging.getLogger(__name__)
Status = Delivery.Status

_SENDERS = {
    Channel.EMAIL: "apps.notifications.channels.email",
    Channel.WEB_PUSH: "apps.notifications.channels.web_push",
    Channel.SMS: "apps.notifications.channels.sms",
}
# A retry due sooner than this is queued with a countdown; a later one is left to the sweep (long ETAs sit in a
# worker's memory and outlive the broker's visibility timeout).
COUNTDOWN_MAX_SECONDS = 300
# A provider's Retry-After is honoured up to a day (a broken header must not park a delivery for a year).
RETRY_AFTER_MAX_SECONDS = 86400


def deliveries_plan(*, notification: Notification, pref: NotificationPreference | None = None) -> list[Delivery]:
    """Write the external deliveries of a new notification (inside the caller's transaction) and queue them on
    commit. Channels the user did not choose, or without a proven target, get no row."""
    user = notification.user
    pref = pref or preferences.preference_for(user)
    now = timezone.now()
    due = preferences.quiet_until(pref, now) or now
    rows: list[Delivery] = []
    for channel in preferences.channels_for(pref, notification.kind):
        if channel == Channel.EMAIL and pref.email and pref.email_verified_at:
            rows.append(Delivery(channel=channel, target=pref.email))
        elif channel == Channel.SMS and pref.phone and pref.phone_verified_at:
            rows.append(Delivery(channel=channel, target=pref.phone))
        elif channel == Channel.WEB_PUSH:
            for subscription in PushSubscription.objects.filter(user=user):
                rows.append(Delivery(channel=channel, target=str(subscription.pk), push_subscription=subscription))
    for row in rows:
        row.notification, row.user = notification, user
        row.scheduled_for = row.next_attempt_at = due
        row.enqueued_at = now if due <= now else None
    Delivery.objects.bulk_create(rows)
    immediate = [str(row.pk) for row in rows if row.enqueued_at is not None]
    if immediate:
        transaction.on_commit(lambda: _enqueue(immediate))
    return rows


def _enqueue(delivery_ids: list[str], countdown: int | None = None) -> None:
    from .tasks import delivery_send

    for delivery_id in delivery_ids:
        try:
            delivery_send.apply_async(kwargs={"delivery_id": delivery_id}, countdown=countdown)
        except Exception:
            # The broker is down: the notification is stored and the row queued; the sweep sends it later.
            logger.exception("Could not queue delivery %s; the sweep will", delivery_id)


@dataclass(frozen=True)
class Attempt:
    outcome: str  # sent, retry, failed, bounced, skipped, deferred (quiet hours)
    retry_in: int | None = None


def retry_delay(attempts: int, retry_after: int | None = None) -> int:
    """Seconds before attempt ``attempts + 1``: the base doubled per attempt, with jitter, capped; a provider's
    Retry-After wins when longer."""
    base = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    delay = min(settings.NOTIFY_RETRY_MAX_SECONDS, int(base * random.uniform(0.8, 1.2)))  # noqa: S311 (jitter)
    return max(delay, min(retry_after or 0, RETRY_AFTER_MAX_SECONDS))


def delivery_attempt(*, delivery_id: str) -> Attempt:
    """Try one queued, due delivery once and record what happened (the Celery task's body)."""
    gone: list[Any] = []
    with transaction.atomic():
        attempt = _attempt_locked(delivery_id, gone)
    if gone:
        # After our commit, without the delivery's lock: deleting it updates (SET_NULL) the other deliveries to the
        # same subscription, which other workers may hold locked while they bounce on it too (a lock cycle).
        PushSubscription.objects.filter(pk__in=gone).delete()
    return attempt


def _attempt_locked(delivery_id: str, gone: list[Any]) -> Attempt:
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("notification", "user", "push_subscription")
        .filter(pk=delivery_id)
        .first()
    )
    now = timezone.now()
    if delivery is None or delivery.status != Status.QUEUED:
        return Attempt("skipped")
    if delivery.next_attempt_at > now + timedelta(seconds=1):
        return Attempt("skipped")  # a duplicate task, or one queued before a retry was scheduled
    if delivery.notification.deleted_at is not None:
        return _finish(delivery, Status.FAILED, "The user deleted the notification before it was sent.")
    if delivery.channel == Channel.WEB_PUSH and delivery.push_subscription is None:
        return _finish(delivery, Status.BOUNCED, "The push subscription was removed.")
    pref = preferences.preference_for(delivery.user)
    still_wanted = _still_wanted(delivery, pref)
    if still_wanted is not None:
        return _finish(delivery, Status.FAILED, still_wanted)
    quiet_until = preferences.quiet_until(pref, now)
    if quiet_until is not None:  # a retry, the sweep or a resend falling in quiet hours (set since, or reached)
        delivery.next_attempt_at, delivery.enqueued_at = quiet_until, None
        delivery.save(update_fields=["next_attempt_at", "enqueued_at", "updated_at"])
        return Attempt("deferred")
    delivery.attempts += 1
    try:
        sender = importlib.import_module(_SENDERS[delivery.channel])
        result: SendResult = sender.send(delivery)
    except TransientDeliveryError as exc:
        if delivery.attempts >= settings.NOTIFY_DELIVERY_MAX_ATTEMPTS:
            return _finish(delivery, Status.FAILED, f"Gave up after {delivery.attempts} attempts: {exc.reason}")
        delay = retry_delay(delivery.attempts, exc.retry_after)
        delivery.last_error = exc.reason
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.enqueued_at = now if delay <= COUNTDOWN_MAX_SECONDS else None
        delivery.save(update_fields=["attempts", "last_error", "next_attempt_at", "enqueued_at", "updated_at"])
        logger.info("Delivery %s (%s) will retry in %ss: %s", delivery.pk, delivery.channel, delay, exc.reason)
        return Attempt("retry", retry_in=delay if delay <= COUNTDOWN_MAX_SECONDS else None)
    except PermanentDeliveryError as exc:
        if exc.bounced:
            _target_gone(delivery, gone)
        return _finish(delivery, Status.BOUNCED if exc.bounced else Status.FAILED, exc.reason)
    except Exception as exc:  # a bug in a channel must not leave the row looking queued forever
        logger.exception("Delivery %s (%s) crashed", delivery.pk, delivery.channel)
        return _finish(delivery, Status.FAILED, f"Internal error: {type(exc).__name__}")
    delivery.provider_message_id = result.provider_message_id[:128]
    if delivery.push_subscription is not None:
        PushSubscription.objects.filter(pk=delivery.push_subscription.pk).update(last_success_at=now)
    return _finish(delivery, Status.SENT, "")


def _target_gone(delivery: Delivery, gone: list[Any]) -> None:
    """A bounce: stop sending there. A push subscription is deleted (404/410: the browser unsubscribed; after the
    commit, see ``delivery_attempt``); an email address or phone number loses its confirmation (the user confirms
    it again, or gives another)."""
    if delivery.push_subscription is not None:
        gone.append(delivery.push_subscription.pk)
        delivery.push_subscription = None
    else:
        preferences.target_unconfirm(user=delivery.user, channel=delivery.channel, target=delivery.target)


def _still_wanted(delivery: Delivery, pref: NotificationPreference) -> str | None:
    """Why the delivery must not go out any more (the user unsubscribed or changed the target since), or None."""
    if delivery.channel not in preferences.channels_for(pref, delivery.notification.kind):
        return "The user switched this channel off before it was sent."
    if delivery.channel == Channel.EMAIL and (delivery.target != pref.email or not pref.email_verified_at):
        return "The email address changed before it was sent."
    if delivery.channel == Channel.SMS and (delivery.target != pref.phone or not pref.phone_verified_at):
        return "The phone number changed before it was sent."
    return None


def _finish(delivery: Delivery, status: str, error: str) -> Attempt:
    delivery.status, delivery.last_error = status, error[:2000]
    if status == Status.SENT:
        delivery.sent_at = timezone.now()
    delivery.save()
    if status != Status.SENT:
        logger.info("Delivery %s (%s) %s: %s", delivery.pk, delivery.channel, status, error)
    return Attempt(str(status))


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue due deliveries that no task is waiting for: quiet hours over, long retries due, lost tasks."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.NOTIFY_SWEEP_GRACE_SECONDS)
    due = Delivery.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=grace)
    )
    ids = [str(pk) for pk in due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]]
    if ids:
        Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
        _enqueue(ids)
    return len(ids)
