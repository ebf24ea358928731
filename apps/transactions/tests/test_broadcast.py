"""POST /api/transactions/broadcast: what was signed must be what was asked for; idempotent on the hash."""

from __future__ import annotations

import pytest
from eth_account import Account
from rest_framework.test import APIClient

from apps.chains.models import Token
from apps.transactions.models import ChainTransaction
from tests.helpers import assert_error_shape

from .conftest import ETH

pytestmark = pytest.mark.django_db


def _signed_transfer(alice, to: str, amount: str, asset: str = "ETH", **override) -> str:
    prepared = alice.prepare(asset=asset, to_address=to, amount=amount)
    assert prepared.status_code == 200, prepared.content
    return alice.sign({**prepared.json()["transaction"], **override})


def test_broadcast_sends_and_records_a_pending_transaction(chain, party, anvil_w3):
    alice, to = party(), Account.create().address
    signed = _signed_transfer(alice, to, "1.5")
    response = alice.broadcast(asset="ETH", to_address=to, amount="1.5", signed_transaction=signed)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["network"] == "local"
    assert body["gas_used"] == "21000"
    assert body["estimated_confirmation"].endswith("Z")
    assert isinstance(body["gas_price"], str)
    record = ChainTransaction.objects.get(pk=body["transaction_id"])
    assert record.tx_hash == body["tx_hash"]
    assert (record.user_id, record.status, record.from_address, record.to_address) == (
        alice.user.pk,
        "pending",
        alice.address,
        to,
    )
    assert record.amount_base == 3 * ETH // 2
    assert record.asset.symbol == "ETH"
    assert record.events.get().to_status == "pending"
    assert anvil_w3.eth.get_balance(to) == 3 * ETH // 2  # really sent (anvil mines at once)
    assert anvil_w3.eth.get_transaction(body["tx_hash"])["from"] == alice.address


def test_the_same_signed_transaction_twice_is_the_same_record(chain, party):
    alice, to = party(), Account.create().address
    signed = _signed_transfer(alice, to, "0.1")
    first = alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=signed)
    again = alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=signed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert ChainTransaction.objects.count() == 1


def test_a_token_transfer_is_recorded_with_its_recipient_and_amount(chain, party, deploy_token, anvil_w3):
    alice, to = party(), Account.create().address
    deploy_token("TUSD", 6, {alice.address: 5 * 10**6})
    signed = _signed_transfer(alice, to, "2.5", asset="TUSD")
    response = alice.broadcast(asset="TUSD", to_address=to, amount="2.5", signed_transaction=signed)
    assert response.status_code == 201, response.content
    record = ChainTransaction.objects.get()
    assert (record.asset.symbol, record.to_address, record.amount_base, record.decimals) == ("TUSD", to, 2_500_000, 6)


@pytest.mark.parametrize(
    ("override", "request_change", "code"),
    [
        ({"chainId": 1}, {}, "chain_id_mismatch"),
        ({}, {"to_address": "0x000000000000000000000000000000000000dEaD"}, "recipient_mismatch"),
        ({}, {"amount": "0.2"}, "amount_mismatch"),
        ({"value": hex(ETH // 5)}, {}, "amount_mismatch"),
        ({"data": "0x1234"}, {}, "asset_mismatch"),
        ({}, {"asset": "TUSD"}, "asset_mismatch"),
    ],
)
def test_broadcast_refuses_what_differs_from_the_request(chain, party, deploy_token, override, request_change, code):
    alice, to = party(), Account.create().address
    deploy_token("TUSD", 6, {alice.address: 10**6})
    signed = _signed_transfer(alice, to, "0.1", **override)
    body = {"asset": "ETH", "to_address": to, "amount": "0.1", "signed_transaction": signed, **request_change}
    assert_error_shape(alice.broadcast(**body), 400, code)
    assert not ChainTransaction.objects.exists()


def test_broadcast_refuses_a_token_transfer_announced_as_another_asset(chain, party, deploy_token):
    alice, to = party(), Account.create().address
    deploy_token("TUSD", 6, {alice.address: 10**6})
    deploy_token("TEUR", 6, {alice.address: 10**6})
    signed = _signed_transfer(alice, to, "0.5", asset="TUSD")
    response = alice.broadcast(asset="TEUR", to_address=to, amount="0.5", signed_transaction=signed)
    assert_error_shape(response, 400, "asset_mismatch")


def test_broadcast_refuses_a_transaction_signed_by_someone_elses_key(chain, party):
    alice, mallory, to = party(), party(), Account.create().address
    tx = alice.prepare(asset="ETH", to_address=to, amount="0.1").json()["transaction"]
    tx.pop("from")
    signed = mallory.sign(tx)
    response = alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=signed)
    assert_error_shape(response, 400, "sender_not_your_wallet")


def test_broadcast_refuses_a_legacy_transaction_without_replay_protection(chain, party):
    alice, to = party(), Account.create().address
    signed = alice.sign({"nonce": 0, "to": to, "value": ETH // 10, "gas": 21_000, "gasPrice": 10**9, "data": b""})
    response = alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=signed)
    assert_error_shape(response, 400, "chain_id_mismatch")


@pytest.mark.parametrize("raw", ["0x00", "0x02f8", "0xdeadbeef"])
def test_broadcast_refuses_what_is_not_a_signed_transaction(chain, party, raw):
    response = party().broadcast(asset="ETH", to_address=Account.create().address, amount="0.1", signed_transaction=raw)
    assert_error_shape(response, 400, "invalid_signed_transaction")


def test_node_refusals_come_back_with_the_nodes_reason(chain, party, anvil_w3):
    alice, to = party(), Account.create().address
    first = _signed_transfer(alice, to, "0.1")
    assert alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=first).status_code == 201

    stale = _signed_transfer(alice, to, "0.2", nonce=0)  # nonce 0 is already used
    error = assert_error_shape(
        alice.broadcast(asset="ETH", to_address=to, amount="0.2", signed_transaction=stale), 400, "nonce_too_low"
    )
    assert "nonce" in error["details"]["node_message"].lower()

    too_much = _signed_transfer(alice, to, "0.1", value=hex(1000 * ETH))
    # the request says 1000, matching what is signed: the node is the one refusing
    response = alice.broadcast(asset="ETH", to_address=to, amount="1000", signed_transaction=too_much)
    assert_error_shape(response, 400, "insufficient_funds")

    future = _signed_transfer(alice, to, "0.1", nonce=5)  # queued: nonces 2-4 are missing
    assert alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=future).status_code == 201
    cheaper = _signed_transfer(alice, to, "0.3", nonce=5)
    response = alice.broadcast(asset="ETH", to_address=to, amount="0.3", signed_transaction=cheaper)
    assert_error_shape(response, 400, "replacement_underpriced")
    assert ChainTransaction.objects.filter(user=alice.user).count() == 2


def test_a_hash_the_wallet_broadcast_itself_is_recorded_from_the_node(chain, party, anvil_w3):
    alice, to = party(), Account.create().address
    signed = _signed_transfer(alice, to, "0.3")
    tx_hash = anvil_w3.eth.send_raw_transaction(signed).to_0x_hex()
    response = alice.broadcast(tx_hash=tx_hash, asset="ETH", to_address=to, amount="0.3")
    assert response.status_code == 201, response.content
    record = ChainTransaction.objects.get(tx_hash=tx_hash)
    assert (record.amount_base, record.to_address, record.raw_transaction) == (3 * ETH // 10, to, "")
    assert alice.broadcast(tx_hash=tx_hash).status_code == 200


def test_a_hash_of_someone_elses_transaction_is_refused(chain, party, anvil_w3):
    alice, bob, to = party(), party(), Account.create().address
    tx_hash = anvil_w3.eth.send_raw_transaction(_signed_transfer(bob, to, "0.3")).to_0x_hex()
    assert_error_shape(alice.broadcast(tx_hash=tx_hash), 400, "sender_not_your_wallet")
    assert_error_shape(alice.broadcast(tx_hash="0x" + "ab" * 32), 400, "transaction_not_found")


def test_a_hash_that_does_not_match_the_request_is_refused(chain, party, anvil_w3):
    alice, to = party(), Account.create().address
    tx_hash = anvil_w3.eth.send_raw_transaction(_signed_transfer(alice, to, "0.3")).to_0x_hex()
    assert_error_shape(
        alice.broadcast(tx_hash=tx_hash, asset="ETH", to_address=to, amount="0.4"), 400, "amount_mismatch"
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"asset": "ETH", "to_address": "0x000000000000000000000000000000000000dEaD", "amount": "1"},
        {"signed_transaction": "0x02", "tx_hash": "0x" + "ab" * 32},
        {"signed_transaction": "0x02"},
        {"signed_transaction": "not hex", "asset": "ETH", "amount": "1", "to_address": "0x" + "11" * 20},
        {"tx_hash": "0x12"},
    ],
)
def test_broadcast_rejects_malformed_requests(chain, party, body):
    assert_error_shape(party().broadcast(**body), 400, "invalid_input")


def test_broadcast_needs_authentication(chain):
    assert_error_shape(APIClient().post("/api/transactions/broadcast", {}, format="json"), 401)


def test_native_coin_needs_no_deployment_row(chain, party):
    assert Token.objects.filter(symbol="ETH").exists()
    alice, to = party(), Account.create().address
    assert alice.send(to=to, amount="0.01")["status"] == "pending"
