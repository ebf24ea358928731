"""The hand-off through a real Celery worker, the retention purge and the lost-task sweep (beat tasks)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from eth_account import Account

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.registry import WebhookEvent, webhook_handler_register, webhook_handler_unregister
from apps.webhooks.services import DeliveryRetryLater, webhook_delivery_process
from apps.webhooks.tasks import deliveries_purge, deliveries_sweep, delivery_process
from engipay.celery import app

from .conftest import BLOCKCHAIN, DEFI, PRICES, event_id, post, post_signed, price_store


def _wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_processed_by_the_worker_after_the_response(senders, local_chain, party, celery_worker):
    app.control.purge()  # tasks other tests queued with no worker running
    price_store("ETH", "1", ago=timedelta(hours=1))  # to value the transfer for the KYC limits
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")  # mined at once; the worker wants 1 confirmation
    assert alice.status(sent["tx_hash"]).json()["status"] == "pending"  # nothing has re-read it yet

    response = post_signed(
        BLOCKCHAIN,
        {
            "id": event_id(),
            "type": "transaction.updated",
            "network": "local",
            "tx_hash": sent["tx_hash"],
            "status": "confirmed",
        },
    )
    assert response.json()["status"] == "queued"
    delivery_id = response.json()["delivery_id"]
    _wait_for(lambda: WebhookDelivery.objects.get(pk=delivery_id).status == "processed")
    assert alice.status(sent["tx_hash"]).json()["status"] == "confirmed"
    assert "pending → confirmed" in WebhookDelivery.objects.get(pk=delivery_id).result


def test_the_beat_runs_the_purge_and_the_sweep():
    app.loader.import_default_modules()
    for entry in ("webhooks-deliveries-purge", "webhooks-deliveries-sweep"):
        task = settings.CELERY_BEAT_SCHEDULE[entry]["task"]
        assert task in app.tasks, task


@pytest.mark.django_db
def test_deliveries_past_the_retention_are_purged(senders, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old = post_signed(DEFI, {"id": event_id(), "protocol": "vesu", "network": "starknet", "wallet_address": "0x1"})
    post(PRICES, b"junk")  # refused, recent
    original = WebhookDelivery.objects.get(pk=old.json()["delivery_id"])
    duplicate_body = {"id": original.event_id, "protocol": "vesu", "network": "starknet", "wallet_address": "0x1"}
    post_signed(DEFI, duplicate_body)  # a recent duplicate pointing at the old one
    WebhookDelivery.objects.filter(pk=original.pk).update(received_at=timezone.now() - timedelta(days=31))

    assert deliveries_purge() == 1
    assert not WebhookDelivery.objects.filter(pk=original.pk).exists()
    assert sorted(WebhookDelivery.objects.values_list("verdict", flat=True)) == ["duplicate", "missing_signature"]
    assert WebhookDelivery.objects.get(verdict="duplicate").duplicate_of is None
    assert deliveries_purge() == 0


@pytest.mark.django_db
def test_a_queued_delivery_whose_task_was_lost_is_queued_again_once(senders, settings):
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 300
    app.control.purge()
    body = {"id": event_id(), "type": "transaction.updated", "network": "local", "tx_hash": "0x" + "ab" * 32}
    delivery_id = post_signed(BLOCKCHAIN, body).json()["delivery_id"]  # on_commit never runs here: no task sent
    assert deliveries_sweep() == 0  # still within the grace period
    WebhookDelivery.objects.filter(pk=delivery_id).update(received_at=timezone.now() - timedelta(minutes=6))
    assert deliveries_sweep() == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).enqueued_at is not None
    assert deliveries_sweep() == 0  # sent again just now: not again before the grace period is over
    with app.connection_for_write() as connection:
        queued = connection.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    assert queued == 1
    app.control.purge()


def _queued_tasks() -> int:
    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)


POSITION = {"protocol": "vesu", "network": "starknet", "wallet_address": "0x1"}


@pytest.fixture
def defi_handler():
    """A DeFi app for the topic (none exists yet) whose handler raises ``outcome.error`` while it is set, for the
    next ``outcome.failures`` calls (None: every call)."""

    class Outcome:
        error: Exception | None = None
        failures: int | None = None

    outcome = Outcome()

    def handle(event: WebhookEvent) -> str:
        if outcome.error is not None and outcome.failures != 0:
            if outcome.failures is not None:
                outcome.failures -= 1
            raise outcome.error
        return "position re-read"

    webhook_handler_register("defi", handle)
    yield outcome
    webhook_handler_unregister("defi", handle)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        SoftTimeLimitExceeded(),
        OperationalError("could not connect to server: Connection refused"),
        OperationalError("database is locked"),
    ],
    ids=["soft-time-limit", "database-down", "database-locked"],
)
def test_a_time_limit_or_database_error_in_the_handler_is_transient(senders, defi_handler, error):
    defi_handler.error = error
    delivery_id = post_signed(DEFI, {"id": event_id(), **POSITION}).json()["delivery_id"]
    with pytest.raises(DeliveryRetryLater) as retry:
        webhook_delivery_process(delivery_id=delivery_id)
    assert retry.value.__cause__ is error
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.retriable, delivery.attempts) == ("failed", True, 1)
    assert delivery.result.startswith("Attempt 1 failed, will retry: ")
    assert "Connection refused" not in delivery.result  # the database's own words stay in the worker's log
    assert delivery.processed_at <= delivery.next_attempt_at <= delivery.processed_at + timedelta(seconds=5)

    # The task retries it (eagerly here: Celery runs each retry at once), and the error goes away after two more.
    defi_handler.failures = 2
    assert delivery_process.apply(args=[delivery_id]).get() == "processed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.retriable, delivery.attempts, delivery.next_attempt_at) == (
        "processed",
        False,
        4,
        None,
    )


@pytest.mark.django_db
def test_a_transient_error_that_lasts_is_given_up_after_the_retries(senders, defi_handler):
    from apps.webhooks.tasks import MAX_RETRIES

    defi_handler.error = OperationalError("database is locked")
    delivery_id = post_signed(DEFI, {"id": event_id(), **POSITION}).json()["delivery_id"]
    assert delivery_process.apply(args=[delivery_id]).get() == "failed"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.retriable, delivery.attempts) == ("failed", False, MAX_RETRIES + 1)
    assert delivery.result == f"Gave up after {MAX_RETRIES + 1} attempts: database unavailable (OperationalError)"


@pytest.mark.django_db
def test_a_bug_in_the_handler_is_not_retried(senders, defi_handler):
    defi_handler.error = KeyError("position_id")
    delivery_id = post_signed(DEFI, {"id": event_id(), **POSITION}).json()["delivery_id"]
    assert delivery_process(delivery_id) == "failed"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.retriable, delivery.next_attempt_at, delivery.result) == (
        "failed",
        False,
        None,
        "Internal error: KeyError",
    )


@pytest.mark.django_db
def test_a_transient_failure_whose_retry_was_lost_is_sent_again_by_the_sweep(senders, settings, defi_handler):
    """The retry is published by the task after the failure is recorded: the broker may be down then, or the worker
    may die first. The row says when the retry was due; the sweep sends it once that is WEBHOOK_SWEEP_GRACE_SECONDS
    past."""
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 300
    app.control.purge()
    defi_handler.error = OperationalError("could not connect to server")
    delivery_id = post_signed(DEFI, {"id": event_id(), **POSITION}).json()["delivery_id"]
    with pytest.raises(DeliveryRetryLater):  # recorded; no retry is sent (as if the broker were down)
        webhook_delivery_process(delivery_id=delivery_id)
    given_up = post_signed(DEFI, {"id": event_id(), **POSITION}).json()["delivery_id"]
    with pytest.raises(DeliveryRetryLater):
        webhook_delivery_process(delivery_id=given_up)
    assert delivery_process.apply(args=[given_up], retries=8).get() == "failed"  # its retries were spent
    assert WebhookDelivery.objects.get(pk=given_up).retriable is False

    assert deliveries_sweep() == 0  # the retry is not due yet (nor its grace period over)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(minutes=4))
    assert deliveries_sweep() == 0  # due, but a retry may still be on its way within the grace period
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(minutes=6))
    assert deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.enqueued_at is not None
    assert deliveries_sweep() == 0  # sent again just now: not again before the grace period is over
    assert _queued_tasks() == 1
    app.control.purge()

    defi_handler.error = None
    assert delivery_process(delivery_id) == "processed"  # what the swept task runs
    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 2
