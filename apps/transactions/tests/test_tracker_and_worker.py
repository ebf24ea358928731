"""The tracker process (`chain_tracker`, websocket newHeads) and the beat safety net (real Celery worker)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from eth_account import Account

from apps.transactions.models import ChainTransaction
from apps.transactions.tasks import transactions_refresh_open
from engipay.celery import app

from .conftest import chains_json, next_notification, open_socket

pytestmark = [pytest.mark.django_db(transaction=True)]
to_thread = asyncio.to_thread


def test_beat_schedules_the_safety_net():
    entry = settings.CELERY_BEAT_SCHEDULE["transactions-refresh-open"]
    assert entry["task"] == "transactions.transactions_refresh_open"
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


@pytest.mark.asyncio
async def test_the_beat_task_in_the_worker_confirms_and_notifies(local_chain, party, celery_worker):
    from .conftest import native_token

    await to_thread(native_token)  # local_chain: 1 confirmation, as the worker's CHAINS_JSON
    alice = await to_thread(party)
    socket = await open_socket(alice)
    try:
        sent = await to_thread(alice.send, to=Account.create().address, amount="0.1")
        assert (await next_notification(socket))["type"] == "transaction_pending"
        await to_thread(transactions_refresh_open.delay)
        pushed = await next_notification(socket, timeout=20)
        assert (pushed["type"], pushed["data"]["tx_hash"]) == ("transaction_confirmed", sent["tx_hash"])
        assert (await to_thread(alice.status, sent["tx_hash"])).json()["status"] == "confirmed"
    finally:
        await socket.disconnect()


def _wait_for_line(log: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never printed: {log.read_text()}")


def _status_becomes(transaction_id: str, status: str, timeout: float = 10) -> float:
    from apps.transactions.models import ChainTransaction

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if ChainTransaction.objects.filter(pk=transaction_id, status=status).exists():
            return time.perf_counter() - started
        time.sleep(0.01)
    raise AssertionError(f"not {status} after {timeout}s")


def test_the_tracker_follows_new_heads_and_resumes_after_a_restart(chain, party, anvil, anvil_w3, tmp_path):
    """The tracker process, run twice: what it did not see while stopped it catches up on at start."""
    from apps.notifications.models import Notification
    from conftest import ROOT, _celery_env

    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")  # before any tracker runs
    env = _celery_env()
    env.update(CHAINS_JSON=chains_json(anvil, confirmations=2), TX_TRACKER_SWEEP_SECONDS="60")
    latencies = []
    for run, (status, blocks) in enumerate([("confirmed", 1), ("finalized", 64)]):
        log = tmp_path / f"tracker-{run}.log"
        with log.open("w") as out:
            tracker = subprocess.Popen(
                [sys.executable, "manage.py", "chain_tracker", "--max-seconds", "30"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for_line(log, "Subscribed to newHeads on local")
            time.sleep(0.3)  # its start-up sweep ran: 1 confirmation of 2, then (second run) still confirmed
            assert ChainTransaction.objects.get(pk=sent["transaction_id"]).status == ("pending", "confirmed")[run]
            started = time.perf_counter()
            anvil_w3.provider.make_request("anvil_mine", [hex(blocks)])
            _status_becomes(sent["transaction_id"], status)
            latencies.append(time.perf_counter() - started)
        finally:
            tracker.terminate()
            try:
                tracker.wait(30)  # a refresh in flight finishes first; a loaded CI machine can take a while
            except subprocess.TimeoutExpired:
                tracker.kill()
                tracker.wait(5)
        assert tracker.returncode == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    assert max(latencies) < 1, latencies  # event-driven (newHeads), not the 2 s poll
    kinds = list(Notification.objects.filter(user=alice.user).order_by("created_at").values_list("kind", flat=True))
    assert kinds == ["transaction_pending", "transaction_confirmed", "transaction_finalized"]


def test_the_tracker_once_option_sweeps_and_exits(chain, party, mine):
    from django.core.management import call_command

    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    mine(1)
    call_command("chain_tracker", "--once")
    assert ChainTransaction.objects.get(pk=sent["transaction_id"]).status == "confirmed"
