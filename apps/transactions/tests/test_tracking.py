"""Tracking through the service the tracker and the beat task call, against real anvil and real websockets:
pending → confirmed → finalized, failed with its reason, a reorg back to pending, a dropped transaction."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account

from apps.chains.clients import evm_rpc as evm
from apps.chains.units import from_base_units
from apps.transactions import services
from apps.transactions.models import ChainTransaction, ChainTransactionEvent

from .conftest import next_notification, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
to_thread = asyncio.to_thread


def refresh(transaction_id: str) -> ChainTransaction:
    return services.transaction_refresh_from_chain(transaction_id=transaction_id)


async def test_a_transfer_goes_pending_confirmed_finalized_and_each_change_reaches_the_socket(chain, party, mine):
    alice, to = await to_thread(party), Account.create().address
    socket = await open_socket(alice)
    try:
        sent = await to_thread(alice.send, to=to, amount="0.5")
        pushed = await next_notification(socket)
        assert (pushed["type"], pushed["data"]["tx_hash"], pushed["data"]["status"]) == (
            "transaction_pending",
            sent["tx_hash"],
            "pending",
        )

        record = await to_thread(refresh, sent["transaction_id"])
        assert (record.status, record.confirmations) == ("pending", 1)  # mined, but 2 confirmations are wanted
        assert record.block_number is not None
        assert await socket.receive_nothing(timeout=0.2)

        await to_thread(mine, 1)
        record = await to_thread(refresh, sent["transaction_id"])
        assert (record.status, record.confirmations) == ("confirmed", 2)
        pushed = await next_notification(socket)
        assert pushed["type"] == "transaction_confirmed"
        assert {k: pushed["data"][k] for k in ("tx_hash", "network", "amount", "asset", "status")} == {
            "tx_hash": sent["tx_hash"],
            "network": "local",
            "amount": "0.5",
            "asset": "ETH",
            "status": "confirmed",
        }

        await to_thread(mine, 64)  # anvil's `finalized` trails its head by 64 blocks
        record = await to_thread(refresh, sent["transaction_id"])
        assert record.status == "finalized"
        assert (await next_notification(socket))["type"] == "transaction_finalized"

        response = await to_thread(alice.status, sent["tx_hash"])
        body = response.json()
        assert body["status"] == "finalized"
        assert body["finalized"] is True
        assert body["confirmations"] == 66
        assert body["block_number"] == str(record.block_number)
        assert body["gas_used"] == "21000"
        assert body["total_fee"] == from_base_units(21_000 * int(record.effective_gas_price), 18)
        assert body["gas_price"] == from_base_units(int(record.effective_gas_price), 9)
        assert body["revert_reason"] is None

        again = await to_thread(refresh, sent["transaction_id"])  # final: nothing changes, nothing is sent
        assert again.status == "finalized"
        assert await socket.receive_nothing(timeout=0.2)
        statuses = await to_thread(lambda: [e.to_status for e in record.events.all()])
        assert statuses == ["pending", "pending", "confirmed", "finalized"]
    finally:
        await socket.disconnect()


async def test_a_reverted_transfer_ends_failed_with_the_reason(chain, party, mine, deploy_token):
    alice, to = await to_thread(party), Account.create().address
    await to_thread(deploy_token, "TUSD", 6, {alice.address: 10**6})
    socket = await open_socket(alice)
    try:
        prepared = (await to_thread(alice.prepare, asset="TUSD", to_address=to, amount="1")).json()["transaction"]
        # More than the balance, with a gas limit set by hand (estimation would refuse it): it reverts on chain.
        tx = {**prepared, "data": "0x" + evm.erc20_transfer_data(to, 2 * 10**6).hex(), "gas": hex(100_000)}
        response = await to_thread(
            alice.broadcast, asset="TUSD", to_address=to, amount="2", signed_transaction=alice.sign(tx)
        )
        assert response.status_code == 201, response.content
        await next_notification(socket)  # pending
        await to_thread(mine, 1)
        record = await to_thread(refresh, response.json()["transaction_id"])
        assert record.status == "failed"
        assert record.revert_reason == f"ERC20InsufficientBalance({alice.address}, 1000000, 2000000)"
        pushed = await next_notification(socket)
        assert pushed["type"] == "transaction_failed"
        assert pushed["data"]["revert_reason"] == record.revert_reason
        status = (await to_thread(alice.status, record.tx_hash)).json()
        assert (status["status"], status["revert_reason"], status["finalized"]) == (
            "failed",
            record.revert_reason,
            False,
        )
    finally:
        await socket.disconnect()


async def test_a_reorg_brings_a_confirmed_transfer_back_to_pending(chain, party, mine, anvil_w3):
    alice, to = await to_thread(party), Account.create().address
    snapshot = await to_thread(lambda: anvil_w3.provider.make_request("evm_snapshot", [])["result"])
    socket = await open_socket(alice)
    try:
        sent = await to_thread(alice.send, to=to, amount="0.2")
        await next_notification(socket)  # pending
        await to_thread(mine, 1)
        confirmed = await to_thread(refresh, sent["transaction_id"])
        assert confirmed.status == "confirmed"
        assert (await next_notification(socket))["type"] == "transaction_confirmed"

        assert (await to_thread(anvil_w3.provider.make_request, "evm_revert", [snapshot]))["result"] is True
        record = await to_thread(refresh, sent["transaction_id"])
        assert (record.status, record.block_number, record.block_hash, record.confirmations) == ("pending", None, "", 0)
        pushed = await next_notification(socket)
        assert (pushed["type"], pushed["data"]["status"]) == ("transaction_reorged", "pending")
        notes = await to_thread(lambda: [e.note for e in record.events.all()])
        assert any(note.startswith("reorg: block") and "re-sent" in note for note in notes)

        # We held the signed bytes and sent them again: the transfer lands in a new block and confirms again.
        await to_thread(mine, 1)
        again = await to_thread(refresh, sent["transaction_id"])
        assert again.status == "confirmed"
        assert again.block_number == confirmed.block_number  # (same parent, same transaction: maybe the same hash)
        assert (await next_notification(socket))["type"] == "transaction_confirmed"
    finally:
        await socket.disconnect()


async def test_a_transfer_replaced_by_another_with_its_nonce_is_dropped(chain, party, anvil_w3):
    alice, to = await to_thread(party), Account.create().address
    snapshot = await to_thread(lambda: anvil_w3.provider.make_request("evm_snapshot", [])["result"])
    socket = await open_socket(alice)
    try:
        sent = await to_thread(alice.send, to=to, amount="0.2")
        await next_notification(socket)
        await to_thread(anvil_w3.provider.make_request, "evm_revert", [snapshot])
        replacement = await to_thread(alice.prepare, asset="ETH", to_address=to, amount="0.3")
        raw = alice.sign(replacement.json()["transaction"])  # same nonce, other amount; sent by the wallet
        await to_thread(anvil_w3.eth.send_raw_transaction, raw)
        record = await to_thread(refresh, sent["transaction_id"])
        assert record.status == "dropped"
        pushed = await next_notification(socket)
        assert (pushed["type"], pushed["data"]["tx_hash"]) == ("transaction_dropped", sent["tx_hash"])
    finally:
        await socket.disconnect()


async def test_refreshing_all_open_transactions_twice_changes_nothing_the_second_time(chain, party, mine):
    alice = await to_thread(party)
    for _ in range(3):
        await to_thread(alice.send, to=Account.create().address, amount="0.01")
    await to_thread(mine, 1)
    assert await to_thread(services.transactions_refresh_open) == 3
    events = await to_thread(lambda: ChainTransactionEvent.objects.count())
    assert await to_thread(services.transactions_refresh_open) == 3  # confirmed is still followed, to finality
    assert await to_thread(lambda: ChainTransactionEvent.objects.count()) == events
    statuses = await to_thread(lambda: sorted(ChainTransaction.objects.values_list("status", flat=True)))
    assert statuses == ["confirmed"] * 3


async def test_a_lost_transfer_the_network_refuses_again_is_dropped(chain, party, anvil_w3):
    """A reorg takes the transfer out and, meanwhile, the sender's funds are gone: the re-send is refused, so the
    transfer will never execute. It is dropped (final), not left pending for ever."""
    alice, to = await to_thread(party), Account.create().address
    snapshot = await to_thread(lambda: anvil_w3.provider.make_request("evm_snapshot", [])["result"])
    sent = await to_thread(alice.send, to=to, amount="0.2")
    assert (await to_thread(anvil_w3.provider.make_request, "evm_revert", [snapshot]))["result"] is True
    await to_thread(anvil_w3.provider.make_request, "anvil_setBalance", [alice.address, "0x0"])
    record = await to_thread(refresh, sent["transaction_id"])
    assert record.status == "dropped"
    assert record.finalized_at is not None
    notes = await to_thread(lambda: [e.note for e in record.events.all()])
    assert any("dropped: the network refuses it" in note for note in notes)
