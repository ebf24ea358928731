"""POST /api/payments/escrow/create and /submit: the guide's shape, what is prepared, what is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from apps.escrow import chain as contract
from apps.escrow.models import Escrow, EscrowAction
from apps.kyc.models import AmlCase
from apps.kyc.tests.sdn_files import assert_sanctioned, sanction
from apps.transactions.models import ChainTransaction
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

ETH = 10**18


def test_create_returns_the_guides_fields_and_an_unsigned_createeth(flow, party, anvil_w3):
    sender, recipient = party(), party()
    response = flow.create(
        sender,
        recipient=recipient.address,
        asset="ETH",
        amount="0.5",
        memo="Invoice payment",
        expires_in_hours=24,
        require_confirmation=True,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    for field in ("escrow_id", "contract_address", "payment_link", "expires_at", "status", "gas_estimate"):
        assert field in body
    assert body["status"] == "awaiting_signature"
    assert body["transaction_hash"] is None
    assert body["contract_address"] == flow.deployment.address
    assert body["payment_link"].endswith(f"/pay/escrow/{body['escrow_id']}")
    assert set(body["gas_estimate"]) >= {"gas_limit", "gas_price", "total_fee"}
    assert int(body["gas_estimate"]["gas_limit"]) > 21_000
    assert Decimal(body["gas_estimate"]["total_fee"]) > 0
    assert [step["step"] for step in body["transactions"]] == ["create"]
    tx = body["transaction"]
    assert tx["to"] == flow.deployment.address
    assert int(tx["value"], 16) == ETH // 2
    assert tx["from"] == sender.address
    escrow = Escrow.objects.get(pk=body["escrow_id"])
    assert escrow.status == Escrow.Status.AWAITING_SIGNATURE
    assert escrow.onchain_id == contract.escrow_id(sender.address, bytes.fromhex(escrow.salt[2:]))
    assert escrow.memo_hash == contract.memo_hash("Invoice payment")
    assert int(escrow.amount_base) == ETH // 2
    assert body["transaction_hashes"]["creation"] is None
    # The prepared call is what the contract takes: it runs on the chain as given.
    assert anvil_w3.eth.estimate_gas({k: tx[k] for k in ("from", "to", "value", "data")}) > 0


def test_create_by_token_address_section_10_shape(flow, party, deploy_token):
    sender, recipient = party(), party()
    usdc = deploy_token("USDC", 6, {sender.address: 1_000 * 10**6})
    response = flow.create(
        sender,
        recipient=recipient.address,
        token_address=usdc,
        amount="250",
        memo="Invoice payment for services",
        expires_in_hours=168,
        dispute_resolver=None,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [step["step"] for step in body["transactions"]] == ["approve", "create"]
    approve, create = (step["transaction"] for step in body["transactions"])
    assert approve["to"] == usdc
    assert create["to"] == flow.deployment.address
    assert int(create["nonce"], 16) == int(approve["nonce"], 16) + 1
    assert body["gas_estimate"]["source"] == "simulated"
    assert body["asset"] == "USDC"
    assert body["amount"] == "250"
    assert body["token_address"] == usdc


def test_an_allowance_already_granted_needs_no_approval(flow, party, deploy_token, anvil_w3):
    sender, recipient = party(), party()
    usdc = deploy_token("USDC", 6, {sender.address: 1_000 * 10**6})
    from apps.escrow.tests.conftest import send_call

    send_call(anvil_w3, sender.signer.account, to=usdc, data=contract.approve_data(flow.deployment.address, 10**12))
    response = flow.create(sender, recipient=recipient.address, asset="USDC", amount="10")
    assert response.status_code == 201, response.content
    assert [step["step"] for step in response.json()["transactions"]] == ["create"]


def test_submit_sends_the_create_but_the_status_waits_for_the_chain_event(flow, party):
    sender, recipient = party(), party()
    body = flow.create(sender, recipient=recipient.address, asset="ETH", amount="1").json()
    submitted = flow.submit(sender, body["escrow_id"], body)
    assert submitted.status_code == 202, submitted.content
    assert submitted.json()["status"] == "submitted"
    tx_hash = submitted.json()["transaction_hashes"][0]
    flow.mined([tx_hash])
    # Mined, but not indexed: the API says what the indexer read, nothing else.
    assert flow.get(sender, body["escrow_id"]).json()["status"] == "awaiting_signature"
    record = ChainTransaction.objects.get(tx_hash=tx_hash)
    assert record.type == ChainTransaction.Type.ESCROW
    assert record.user == sender.user
    flow.index()
    shown = flow.get(sender, body["escrow_id"]).json()
    assert shown["status"] == "pending"
    assert shown["transaction_hashes"]["creation"] == tx_hash
    assert EscrowAction.objects.get(escrow_id=body["escrow_id"]).status == EscrowAction.Status.DONE
    # The same signed transaction again changes nothing.
    again = flow.submit(sender, body["escrow_id"], body)
    assert again.status_code == 202
    assert again.json()["transaction_hashes"] == [tx_hash]


def test_a_tampered_transaction_is_refused_and_nothing_is_sent(flow, party, anvil_w3):
    sender, recipient, thief = party(), party(), party()
    body = flow.create(sender, recipient=recipient.address, asset="ETH", amount="1").json()
    tx = dict(body["transaction"])
    tx["data"] = tx["data"].replace(recipient.address[2:].lower(), thief.address[2:].lower())
    response = sender.client.post(
        f"/api/payments/escrow/{body['escrow_id']}/submit", {"signed_transaction": sender.sign(tx)}, format="json"
    )
    assert_error_shape(response, 400, "transaction_mismatch")
    assert not ChainTransaction.objects.exists()


def test_a_transaction_signed_by_another_key_is_refused(flow, party):
    sender, recipient = party(), party()
    body = flow.create(sender, recipient=recipient.address, asset="ETH", amount="1").json()
    other = Account.create()
    signed = "0x" + other.sign_transaction(body["transaction"] | {"from": other.address}).raw_transaction.hex()
    response = sender.client.post(
        f"/api/payments/escrow/{body['escrow_id']}/submit", {"signed_transaction": signed}, format="json"
    )
    assert_error_shape(response, 400, "wrong_signer")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "-1"}, "invalid_input"),
        ({"amount": "abc"}, "invalid_input"),
        ({"amount": "NaN"}, "invalid_input"),
        ({"amount": 0.5}, "invalid_input"),
        ({"amount": "0"}, "invalid_input"),
        ({"amount": "0.0000000000000000001"}, "too_precise"),
        ({"recipient": "0x123"}, "invalid_address"),
        ({"recipient": "0x70997970c51812dc3a010c7d01b50e0d17dc79C8"}, "invalid_address"),
        ({"expires_in_hours": 0}, "invalid_expiry"),
        ({"expires_in_hours": 100_000}, "invalid_expiry"),
        ({"expires_in_hours": "soon"}, "invalid_input"),
        ({"asset": "DOGE"}, "unknown_asset"),
        ({"asset": None, "token_address": "0x0000000000000000000000000000000000000bad"}, "unknown_asset"),
        ({"memo": "x" * 501}, "invalid_input"),
        ({"network": "nowhere"}, "unknown_network"),
        ({"dispute_resolver": "not-an-address"}, "invalid_address"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(flow, party, change, code):
    sender, recipient = party(), party()
    body = {"recipient": recipient.address, "asset": "ETH", "amount": "1", **change}
    body = {key: value for key, value in body.items() if value is not None}
    response = flow.create(sender, **body)
    assert_error_shape(response, 400, code)
    assert not Escrow.objects.exists()


def test_paying_yourself_or_naming_a_party_as_resolver_is_refused(flow, party):
    sender, recipient = party(), party()
    assert_error_shape(flow.create(sender, recipient=sender.address, asset="ETH", amount="1"), 400, "invalid_recipient")
    response = flow.create(
        sender, recipient=recipient.address, asset="ETH", amount="1", dispute_resolver=recipient.address
    )
    assert_error_shape(response, 400, "invalid_resolver")
    assert not Escrow.objects.exists()


def test_more_than_the_wallet_holds_is_refused(flow, party):
    sender, recipient = party(balance=ETH), party()
    response = flow.create(sender, recipient=recipient.address, asset="ETH", amount="5")
    assert_error_shape(response, 400, "insufficient_funds")
    assert not Escrow.objects.exists()


def test_create_needs_a_login(flow, api_client):
    response = api_client.post("/api/payments/escrow/create", {"recipient": "0x0", "amount": "1"}, format="json")
    assert_error_shape(response, 401)


def test_create_over_the_kyc_limit_is_refused(escrow_chain, party, settings):
    settings.KYC_LIMITS = {tier: {"daily": "1000", "monthly": "5000"} for tier in ("tier_0", "tier_1", "tier_2")}
    sender, recipient = party(), party()
    response = sender.client.post(
        "/api/payments/escrow/create",
        {"recipient": recipient.address, "asset": "ETH", "amount": "1"},  # 3,000 USD at the fixture's price
        format="json",
    )
    assert_error_shape(response, 403, "kyc_limit_exceeded")
    assert not Escrow.objects.exists()


def test_a_sanctioned_recipient_is_refused(flow, party, tmp_path):
    sender, listed = party(), Account.create().address
    sanction(tmp_path, ("ETH", listed))
    assert_sanctioned(flow.create(sender, recipient=listed, asset="ETH", amount="1"))
    assert not Escrow.objects.exists()
    assert AmlCase.objects.get().context == "escrow_create"
