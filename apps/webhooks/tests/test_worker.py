"""The hand-off through a real Celery worker, the retention purge and the lost-task sweep (beat tasks)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from eth_account import Account

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.tasks import deliveries_purge, deliveries_sweep
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
    assert alice.status(sent["tx_hash"])["status"] == "pending"  # nothing has re-read it yet

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
    assert alice.status(sent["tx_hash"])["status"] == "confirmed"
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
