"""Starknet through the same endpoints as EVM: prepare → sign (starknet-py, as a wallet) → broadcast → track,
against the Starknet JSON-RPC double (every response validated against the spec)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from rest_framework.test import APIClient
from starknet_py.net.client_models import ResourceBounds, ResourceBoundsMapping

from apps.chains.heads import HeadFollower
from apps.chains.registry import chain
from apps.notifications.models import Notification
from apps.transactions import services
from apps.transactions.models import ChainTransaction
from tests.doubles.starknet_signing import keypair, sign_typed_data, signed_invoke, transfer_call
from tests.helpers import assert_error_shape, fresh_nonce, snip12_sign_in

SN_SEPOLIA = int.from_bytes(b"SN_SEPOLIA", "big")
SN_MAIN = int.from_bytes(b"SN_MAIN", "big")
USDC = 10**6


def _felt(address: str) -> str:
    return f"0x{int(address, 16):064x}"


@pytest.fixture
def owner(starknet_chain, starknet_account):
    """A user signed in with their Starknet account (SNIP-12), with an API client carrying their token."""
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, typed)
    body = {
        "wallet_address": starknet_account.address,
        "wallet_type": "argent",
        "message": typed,
        "signature": signature,
    }
    response = client.post("/api/auth/wallet-connect", body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return SimpleNamespace(client=client, account=starknet_account, user_id=response.json()["user"]["id"])


def _prepare(owner, **body):
    return owner.client.post("/api/transactions/prepare", {"network": "starknet", **body}, format="json")


def _broadcast(owner, **body):
    return owner.client.post("/api/transactions/broadcast", {"network": "starknet", **body}, format="json")


def _bounds(prepared: dict) -> ResourceBoundsMapping:
    rb = prepared["transaction"]["resource_bounds"]
    return ResourceBoundsMapping(
        **{
            name: ResourceBounds(int(rb[name]["max_amount"], 16), int(rb[name]["max_price_per_unit"], 16))
            for name in ("l1_gas", "l1_data_gas", "l2_gas")
        }
    )


def _sign(node, account, prepared: dict, *, chain_id: int = SN_SEPOLIA, calls=None) -> dict:
    tx = prepared["transaction"]
    return signed_invoke(
        node,
        chain_id,
        account.address,
        account.private_key,
        calls or tx["calls"],
        nonce=int(tx["nonce"], 16),
        resource_bounds=_bounds(prepared),
    )


def _refresh(record_id) -> ChainTransaction:
    services.transactions_refresh_open(network="starknet")
    return ChainTransaction.objects.get(pk=record_id)


@pytest.mark.django_db
def test_an_invoke_transfer_goes_pending_then_confirmed_then_finalized(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="12.5")
    assert prepared.status_code == 200, prepared.content
    body = prepared.json()
    call = body["transaction"]["calls"][0]
    assert int(call["contract_address"], 16) == int(starknet_node.token_address("USDC"), 16)
    assert call["entrypoint"] == "transfer"
    assert [int(x, 16) for x in call["calldata"]] == [int(recipient, 16), 12_500_000, 0]
    assert int(body["transaction"]["sender_address"], 16) == int(owner.account.address, 16)
    fee = body["fee_estimate"]
    assert fee["asset"] == "STRK"
    assert fee["unit"] == "FRI"
    assert int(fee["l2_gas_consumed"]) > 0
    assert 0 < Decimal(fee["expected_fee"]) <= Decimal(fee["max_fee"])
    assert body["status"] == "awaiting_signature"
    assert not ChainTransaction.objects.exists()

    signed = _sign(starknet_node, owner.account, body)
    sent = _broadcast(owner, signed_transaction=signed, asset="USDC", to_address=recipient, amount="12.5")
    assert sent.status_code == 201, sent.content
    assert sent.json()["status"] == "pending"
    assert (
        _broadcast(owner, signed_transaction=signed, asset="USDC", to_address=recipient, amount="12.5").json()[
            "transaction_id"
        ]
        == sent.json()["transaction_id"]
    )  # idempotent on the hash
    record_id = sent.json()["transaction_id"]
    assert _refresh(record_id).status == "pending"  # RECEIVED: not in a block yet

    starknet_node.create_block()
    record = _refresh(record_id)
    assert record.status == "confirmed"
    assert starknet_node.balance(recipient, "USDC") == 12_500_000
    assert starknet_node.balance(owner.account.address, "USDC") == 100 * USDC - 12_500_000
    status = owner.client.get(f"/api/transactions/{record.tx_hash}/status").json()
    assert (status["status"], status["finalized"], status["network"]) == ("confirmed", False, "starknet")
    assert status["block_number"] is not None
    assert Decimal(status["total_fee"]) > 0

    starknet_node.accept_on_l1()
    record = _refresh(record_id)
    assert record.status == "finalized"
    assert record.finalized_at is not None
    kinds = list(
        Notification.objects.filter(user_id=owner.user_id).order_by("created_at").values_list("kind", flat=True)
    )
    assert kinds == ["transaction_pending", "transaction_confirmed", "transaction_finalized"]


@pytest.mark.django_db
def test_a_reverting_transfer_ends_failed_with_the_reason(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="1").json()
    too_much = [transfer_call(starknet_node.token_address("USDC"), recipient, 1000 * USDC)]
    signed = _sign(starknet_node, owner.account, prepared, calls=too_much)
    sent = _broadcast(owner, signed_transaction=signed, asset="USDC", to_address=recipient, amount="1000")
    assert sent.status_code == 201, sent.content
    starknet_node.create_block()
    record = _refresh(sent.json()["transaction_id"])
    assert record.status == "failed"
    assert "insufficient balance" in record.revert_reason
    assert record.fee_paid > 0  # a reverted transaction still pays its fee
    assert starknet_node.balance(recipient, "USDC") == 0
    status = owner.client.get(f"/api/transactions/{record.tx_hash}/status").json()
    assert status["status"] == "failed"
    assert "insufficient balance" in status["revert_reason"]
    assert status["finalized"] is False
    starknet_node.accept_on_l1()
    assert _refresh(record.pk).finalized_at is not None
    assert owner.client.get(f"/api/transactions/{record.tx_hash}/status").json()["finalized"] is True


@pytest.mark.django_db
def test_a_transaction_signed_for_another_chain_is_refused(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="1").json()
    signed = _sign(starknet_node, owner.account, prepared, chain_id=SN_MAIN)
    response = _broadcast(owner, signed_transaction=signed, asset="USDC", to_address=recipient, amount="1")
    assert_error_shape(response, 400, "invalid_signature")  # the node: the signature is not over this chain's hash
    response = _broadcast(
        owner, signed_transaction={**signed, "chain_id": "SN_MAIN"}, asset="USDC", to_address=recipient, amount="1"
    )
    assert_error_shape(response, 400, "chain_id_mismatch")
    assert not ChainTransaction.objects.exists()


@pytest.mark.django_db
def test_a_foreign_sender_account_is_refused(owner, starknet_node):
    stranger_keys = keypair()
    stranger = SimpleNamespace(
        address=starknet_node.deploy_account(stranger_keys.private_key), private_key=stranger_keys.private_key
    )
    starknet_node.mint(stranger.address, "STRK", 10**19)
    starknet_node.mint(stranger.address, "USDC", 5 * USDC)
    prepared = _prepare(owner, asset="USDC", to_address=owner.account.address, amount="1").json()
    prepared["transaction"]["nonce"] = "0x0"
    signed = _sign(starknet_node, stranger, prepared)
    response = _broadcast(owner, signed_transaction=signed, asset="USDC", to_address=owner.account.address, amount="1")
    assert_error_shape(response, 400, "sender_not_your_wallet")


@pytest.mark.django_db
def test_what_was_signed_must_match_the_request(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="2").json()
    signed = _sign(starknet_node, owner.account, prepared)
    for change, code in [
        ({"amount": "3"}, "amount_mismatch"),
        ({"asset": "ETH"}, "asset_mismatch"),
        ({"to_address": owner.account.address}, "recipient_mismatch"),
    ]:
        body = {"signed_transaction": signed, "asset": "USDC", "to_address": recipient, "amount": "2", **change}
        assert_error_shape(_broadcast(owner, **body), 400, code)
    assert_error_shape(
        _broadcast(owner, signed_transaction={"type": "INVOKE"}, asset="USDC", to_address=recipient, amount="2"), 400
    )
    assert_error_shape(
        _broadcast(owner, signed_transaction="0x1234", asset="USDC", to_address=recipient, amount="2"), 400
    )


@pytest.mark.django_db
def test_prepare_refuses_what_cannot_be_paid_and_bad_addresses(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    error = assert_error_shape(
        _prepare(owner, asset="USDC", to_address=recipient, amount="100.000001"), 400, "insufficient_funds"
    )
    assert error["details"] == {"asset": "USDC", "required": "100.000001", "available": "100"}
    assert_error_shape(_prepare(owner, asset="USDC", to_address="0xnothex", amount="1"), 400, "invalid_input")
    assert_error_shape(_prepare(owner, asset="USDC", to_address="0x" + "f" * 64, amount="1"), 400, "invalid_input")
    assert_error_shape(_prepare(owner, asset="USDC", to_address=recipient, amount="0.0000001"), 400, "too_precise")
    assert_error_shape(_prepare(owner, asset="DOGE", to_address=recipient, amount="1"), 400, "unknown_asset")


@pytest.mark.django_db
def test_a_hash_the_wallet_sent_itself_is_tracked(owner, starknet_node):
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="4").json()
    signed = _sign(starknet_node, owner.account, prepared)
    reply = httpx.post(
        starknet_node.url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "starknet_addInvokeTransaction",
            "params": {"invoke_transaction": signed},
        },
    ).json()
    tx_hash = reply["result"]["transaction_hash"]
    response = _broadcast(owner, tx_hash=tx_hash)
    assert response.status_code == 201, response.content
    record = ChainTransaction.objects.get(pk=response.json()["transaction_id"])
    assert (record.to_address, record.amount_base, record.asset.symbol) == (_felt(recipient), 4 * USDC, "USDC")
    assert _broadcast(owner, tx_hash=tx_hash).status_code == 200
    assert_error_shape(_broadcast(owner, tx_hash="0x" + "12" * 31), 400, "transaction_not_found")


@pytest.mark.django_db(transaction=True)
def test_the_tracker_follows_starknet_heads(settings, owner, starknet_node):
    settings.TX_TRACKER_POLL_SECONDS = 1
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="1").json()
    sent = _broadcast(
        owner,
        signed_transaction=_sign(starknet_node, owner.account, prepared),
        asset="USDC",
        to_address=recipient,
        amount="1",
    ).json()
    stop = threading.Event()
    tracker = threading.Thread(
        target=HeadFollower(
            chain("starknet"), stop, on_head=lambda: services.transactions_refresh_open(network="starknet")
        ).run,
        daemon=True,
    )
    tracker.start()
    try:
        time.sleep(0.5)
        starknet_node.create_block()
        deadline = time.monotonic() + 5
        while (
            time.monotonic() < deadline
            and ChainTransaction.objects.get(pk=sent["transaction_id"]).status != "confirmed"
        ):
            time.sleep(0.1)
        assert ChainTransaction.objects.get(pk=sent["transaction_id"]).status == "confirmed"
    finally:
        stop.set()
    tracker.join(10)


@pytest.mark.django_db
def test_a_hash_outside_the_field_is_a_400(owner):
    assert_error_shape(_broadcast(owner, tx_hash="0x" + "f" * 64), 400, "invalid_input")
    assert_error_shape(owner.client.get("/api/transactions/0xnothex/status"), 404)


@pytest.mark.django_db
def test_a_wallet_that_pads_its_felts_is_understood(owner, starknet_node):
    """Some wallets write felts with leading zeros, which the spec's FELT pattern refuses: they are normalised."""
    recipient = starknet_node.deploy_account(keypair().private_key)
    prepared = _prepare(owner, asset="USDC", to_address=recipient, amount="3").json()
    signed = _sign(starknet_node, owner.account, prepared)
    padded = {
        **signed,
        "sender_address": _felt(signed["sender_address"]),
        "calldata": [_felt(x) for x in signed["calldata"]],
    }
    response = _broadcast(owner, signed_transaction=padded, asset="USDC", to_address=recipient, amount="3")
    assert response.status_code == 201, response.content
    starknet_node.create_block()
    assert _refresh(response.json()["transaction_id"]).status == "confirmed"
