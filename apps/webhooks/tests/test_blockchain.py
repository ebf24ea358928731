"""The blockchain webhook against a real anvil: a webhook is only a hint to re-read our transactions from the chain.
Whatever it claims, the status moves when (and only when) the chain says so. Ours and Alchemy's formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import checks
from eth_account import Account

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.services import DeliveryRetryLater, webhook_delivery_process
from apps.webhooks.tasks import delivery_process
from engipay.api.errors import ChainUnavailable
from tests.helpers import assert_error_shape

from .conftest import ALCHEMY_KEY, BLOCKCHAIN, alchemy_envelope, event_id, model, post_alchemy, post_signed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("senders")]


def transaction(transaction_id: str):
    return model("transactions.ChainTransaction").objects.get(pk=transaction_id)


def claim(tx_hash: str, **extra) -> dict:
    return {"id": event_id(), "type": "transaction.updated", "network": "local", "tx_hash": tx_hash, **extra}


def deliver(response) -> WebhookDelivery:
    """Run the processing task for an accepted delivery (the code the worker runs) and return the stored row."""
    assert response.status_code == 200, response.content
    delivery_id = response.json()["delivery_id"]
    delivery_process(delivery_id)
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_a_claimed_confirmation_changes_nothing_until_the_chain_confirms(evm, party, mine, no_automine):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.5")  # in the mempool: anvil is not mining
    events = model("transactions.ChainTransactionEvent").objects.filter(transaction_id=sent["transaction_id"])
    assert list(events.values_list("to_status", flat=True)) == ["pending"]

    lie = deliver(post_signed(BLOCKCHAIN, claim(sent["tx_hash"], status="confirmed", block_number=123)))
    record = transaction(sent["transaction_id"])
    assert (record.status, record.block_number, record.confirmations) == ("pending", None, 0)
    assert lie.status == "processed"
    assert "claimed status confirmed, block 123" in lie.result
    assert "still pending (not in a block)" in lie.result
    assert events.count() == 1  # re-read, nothing changed, nothing recorded

    mine(2)  # in a block, and one on top: the 2 confirmations the chain wants
    truth = deliver(post_signed(BLOCKCHAIN, claim(sent["tx_hash"])))
    record.refresh_from_db()
    assert (record.status, record.confirmations) == ("confirmed", 2)
    assert record.block_number is not None
    assert "pending → confirmed" in truth.result
    assert alice.status(sent["tx_hash"]).json()["status"] == "confirmed"  # what the user sees


def test_a_claimed_failure_does_not_fail_a_transaction_the_chain_confirmed(evm, party, mine):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    mine(1)
    delivery = deliver(post_signed(BLOCKCHAIN, claim(sent["tx_hash"], status="failed")))
    assert transaction(sent["transaction_id"]).status == "confirmed"
    assert "pending → confirmed" in delivery.result


def test_a_transaction_we_do_not_track_changes_nothing(evm, party):
    unknown = "0x" + "ab" * 32
    delivery = deliver(post_signed(BLOCKCHAIN, claim(unknown, status="finalized")))
    assert delivery.status == "processed"
    assert delivery.result == f"{unknown}: not tracked here (claimed status finalized); nothing changed."
    assert not model("transactions.ChainTransaction").objects.exists()


def test_a_tracked_transaction_the_chain_does_not_have_stays_as_it_was(evm, party, anvil_w3, no_automine):
    """The wallet broadcast it (we hold no signed bytes to re-send), then the node lost it from its mempool."""
    alice, to = party(), Account.create().address
    prepared = alice.prepare(asset="ETH", to_address=to, amount="0.2").json()["transaction"]
    tx_hash = anvil_w3.eth.send_raw_transaction(alice.sign(prepared)).to_0x_hex()
    assert alice.broadcast(tx_hash=tx_hash).status_code == 201
    anvil_w3.provider.make_request("anvil_dropTransaction", [tx_hash])
    assert anvil_w3.provider.make_request("eth_getTransactionByHash", [tx_hash])["result"] is None
    record = model("transactions.ChainTransaction").objects.get(tx_hash=tx_hash)
    before = (record.status, record.block_number, record.updated_at.isoformat(), record.events.count())

    delivery = deliver(post_signed(BLOCKCHAIN, claim(tx_hash, status="finalized", block_number=7)))
    record.refresh_from_db()
    assert (record.status, record.block_number, record.events.count()) == (before[0], before[1], before[3])
    assert "still pending (not in a block)" in delivery.result


def test_the_hash_is_matched_whatever_its_case_and_several_can_come_in_one_event(evm, party, mine):
    alice = party()
    first = alice.send(to=Account.create().address, amount="0.1")
    second = alice.send(to=Account.create().address, amount="0.1")
    mine(1)
    shouted = "0x" + first["tx_hash"][2:].upper()
    body = claim(shouted, transactions=[{"tx_hash": second["tx_hash"], "status": "confirmed"}])
    delivery = deliver(post_signed(BLOCKCHAIN, body))
    assert [alice.status(sent["tx_hash"]).json()["status"] for sent in (first, second)] == ["confirmed", "confirmed"]
    assert delivery.result.count("pending → confirmed") == 2


def test_a_final_transaction_is_not_read_again(evm, party, mine):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    mine(70)
    deliver(post_signed(BLOCKCHAIN, claim(sent["tx_hash"])))
    assert transaction(sent["transaction_id"]).status == "finalized"
    again = deliver(post_signed(BLOCKCHAIN, claim(sent["tx_hash"])))
    assert again.result == f"{sent['tx_hash']}: already finalized (final); nothing to re-read."


def test_an_unconfigured_network_changes_nothing(evm, party):
    delivery = deliver(post_signed(BLOCKCHAIN, {**claim("0x" + "cd" * 32), "network": "polygon"}))
    assert delivery.status == "processed"
    assert delivery.result == "Network 'polygon' is not configured here; nothing changed."


def test_a_node_outage_fails_the_delivery_for_a_retry_that_succeeds_once_it_is_back(rpc_recorder, evm, party, mine):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    mine(1)
    response = post_signed(BLOCKCHAIN, claim(sent["tx_hash"]))
    delivery_id = response.json()["delivery_id"]
    rpc_recorder.down = True
    with pytest.raises(DeliveryRetryLater) as retry:
        webhook_delivery_process(delivery_id=delivery_id)
    assert isinstance(retry.value.__cause__, ChainUnavailable)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.retriable, delivery.attempts) == ("failed", True, 1)
    assert "will retry" in delivery.result
    assert delivery.processed_at <= delivery.next_attempt_at <= delivery.processed_at + timedelta(seconds=5)
    assert transaction(sent["transaction_id"]).status == "pending"

    rpc_recorder.down = False
    assert delivery_process(delivery_id) == "processed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.retriable, delivery.attempts) == ("processed", False, 2)
    assert delivery.next_attempt_at is None
    assert transaction(sent["transaction_id"]).status == "confirmed"


def test_after_the_last_retry_the_delivery_is_given_up(rpc_recorder, evm, party, mine):
    from apps.webhooks.tasks import MAX_RETRIES

    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    delivery_id = post_signed(BLOCKCHAIN, claim(sent["tx_hash"])).json()["delivery_id"]
    rpc_recorder.down = True
    assert delivery_process.apply(args=[delivery_id], retries=MAX_RETRIES).get() == "failed"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.retriable) == ("failed", False)
    assert delivery.result.startswith("Gave up after 1 attempts")
    rpc_recorder.down = False
    assert delivery_process(delivery_id) == "failed"  # a stray task does not run it again; staff can


# --- Alchemy ---------------------------------------------------------------------------------------------------


def test_an_alchemy_address_activity_delivery_is_verified_and_re_reads_the_transactions(evm, party, mine):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.3")
    mine(1)
    envelope = alchemy_envelope([sent["tx_hash"], "0x" + "ef" * 32], removed=True)
    response = post_alchemy(envelope)
    assert response.json()["status"] == "queued"
    delivery = deliver(response)
    assert (delivery.source, delivery.event_id, delivery.status) == ("alchemy", envelope["id"], "processed")
    assert transaction(sent["transaction_id"]).status == "confirmed"
    assert "log removed" in delivery.result
    assert f"{'0x' + 'ef' * 32}: not tracked here" in delivery.result
    assert delivery.payload["network"] == "local"
    assert delivery.payload["provider_network"] == "ETH_SEPOLIA"

    again = post_alchemy(envelope)  # Alchemy retries: the same whevt_ id
    assert again.json() == {**response.json(), "duplicate": True, "status": "processed"}


def created(offset: timedelta) -> datetime:
    """A createdAt ``offset`` from now, computed when the test runs (never when the parameters are collected)."""
    return datetime.now(tz=UTC) + offset


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"key": "not-the-signing-key"}, 401, "invalid_signature"),
        ({"created_at": -timedelta(days=30, hours=1)}, 401, "stale_timestamp"),  # older than the retention
        ({"created_at": timedelta(minutes=6)}, 401, "stale_timestamp"),  # ahead of our clock
        ({"createdAt": None}, 400, "missing_timestamp"),
        ({"createdAt": "2024-01-01 00:00:00"}, 400, "missing_timestamp"),
        ({"id": None}, 400, "invalid_payload"),
        ({"hash": "0x1234"}, 400, "invalid_payload"),
    ],
)
def test_alchemy_deliveries_that_are_not_signed_fresh_and_well_formed_are_refused(change, status, code):
    offset = change.get("created_at")
    envelope = alchemy_envelope(
        [change.get("hash", "0x" + "ab" * 32)], created_at=None if offset is None else created(offset)
    )
    for field in ("createdAt", "id"):
        if field in change:
            if change[field] is None:
                del envelope[field]
            else:
                envelope[field] = change[field]
    response = post_alchemy(envelope, key=change.get("key", ALCHEMY_KEY))
    assert_error_shape(response, status, code)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.source, delivery.verdict) == ("alchemy", code)


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(days=2), timedelta(days=30) - timedelta(minutes=5)])
def test_alchemy_retries_after_an_outage_keep_their_created_at_and_are_accepted_once(age):
    """Alchemy's retries (we were down, or answered 5xx) carry the original createdAt: within the retention they are
    accepted once, and every later copy is a duplicate (the event id is the replay guard)."""
    envelope = alchemy_envelope(["0x" + "ab" * 32], created_at=created(-age))
    first = post_alchemy(envelope)
    assert first.status_code == 200, first.content
    assert first.json()["duplicate"] is False
    again = post_alchemy(envelope)
    assert again.json() == {**first.json(), "duplicate": True}
    assert list(WebhookDelivery.objects.order_by("received_at").values_list("verdict", flat=True)) == [
        "accepted",
        "duplicate",
    ]


def test_the_alchemy_tolerance_can_be_shorter_than_the_retention(settings):
    settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = 3600
    recent = post_alchemy(alchemy_envelope(["0x" + "ab" * 32], created_at=created(-timedelta(minutes=50))))
    assert recent.json()["status"] == "queued"
    error = assert_error_shape(
        post_alchemy(alchemy_envelope(["0x" + "ab" * 32], created_at=created(-timedelta(minutes=70)))),
        401,
        "stale_timestamp",
    )
    assert error["details"] == {"tolerance_seconds": 3600}


def test_an_alchemy_tolerance_longer_than_the_retention_is_reported_and_cut_to_it(settings):
    from apps.webhooks.apps import webhook_settings_check

    settings.WEBHOOK_RETENTION_DAYS = 7
    settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = 30 * 86400
    [warning] = webhook_settings_check()
    assert (warning.id, warning.level) == ("webhooks.W001", checks.WARNING)
    assert "ALCHEMY_WEBHOOK_TOLERANCE_SECONDS" in warning.msg
    # A replay older than the stored event ids is refused by time, even though the setting would let it in.
    error = assert_error_shape(
        post_alchemy(alchemy_envelope(["0x" + "ab" * 32], created_at=created(-timedelta(days=8)))),
        401,
        "stale_timestamp",
    )
    assert error["details"] == {"tolerance_seconds": 7 * 86400}
    assert post_alchemy(alchemy_envelope(["0x" + "ab" * 32], created_at=created(-timedelta(days=6)))).status_code == 200

    settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = 7 * 86400
    assert webhook_settings_check() == []


def test_an_alchemy_event_stays_a_duplicate_until_its_created_at_is_too_old(settings):
    """The purge may not forget an event id while its createdAt still lets its replays in: not even for an event
    stamped ahead of our clock (within WEBHOOK_TOLERANCE_SECONDS) when it first arrived, a retention ago."""
    from apps.webhooks.services import webhook_deliveries_purge

    settings.WEBHOOK_RETENTION_DAYS = 30
    settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = 30 * 86400
    created_at = created(-timedelta(days=30) + timedelta(minutes=2))  # still within the tolerance for 2 minutes
    envelope = alchemy_envelope(["0x" + "ab" * 32], created_at=created_at)
    first = post_alchemy(envelope).json()
    # It first arrived 4 minutes before its createdAt (Alchemy's clock ahead of ours, within the 300 s).
    WebhookDelivery.objects.filter(pk=first["delivery_id"]).update(received_at=created_at - timedelta(minutes=4))
    assert webhook_deliveries_purge() == 0
    assert post_alchemy(envelope).json() == {**first, "duplicate": True}


def test_an_alchemy_signature_on_an_endpoint_without_alchemy_keys_is_an_unknown_source(settings):
    settings.ALCHEMY_WEBHOOK_SIGNING_KEYS = []
    assert_error_shape(post_alchemy(alchemy_envelope(["0x" + "ab" * 32])), 401, "unknown_source")


def test_an_alchemy_network_we_do_not_map_is_processed_and_changes_nothing(evm):
    delivery = deliver(post_alchemy(alchemy_envelope(["0x" + "ab" * 32], network="MATIC_MAINNET")))
    assert delivery.status == "processed"
    assert delivery.result == (
        "Network 'MATIC_MAINNET' is not mapped to a chain here (ALCHEMY_NETWORKS); nothing changed."
    )


def test_an_alchemy_error_envelope_is_stored_and_ignored(django_capture_on_commit_callbacks):
    envelope = alchemy_envelope([])
    envelope["event"] = {"network": "ETH_SEPOLIA", "error": "Monthly compute units exceeded"}
    with django_capture_on_commit_callbacks() as queued:
        response = post_alchemy(envelope)
    assert response.json()["status"] == "ignored"
    assert queued == []  # nothing for the worker to do
    delivery = WebhookDelivery.objects.get()
    assert (delivery.verdict, delivery.status) == ("accepted", "ignored")
    assert "Monthly compute units exceeded" in delivery.result
