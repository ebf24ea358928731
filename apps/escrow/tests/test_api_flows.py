"""End to end on anvil: every escrow transition through the API (prepare → sign with eth-account → submit), the
state read back only after the indexer read the contract's event, balances checked on chain."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.chains import devchain
from apps.chains.clients import client_for
from apps.chains.registry import chain
from apps.escrow import chain as contract
from apps.escrow.models import Escrow, EscrowAction
from apps.escrow.tests.conftest import RESOLVER, send_call
from apps.transactions.services import transactions_refresh_open
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

ETH = 10**18


def onchain_state(escrow: Escrow) -> str:
    client = client_for(chain(escrow.deployment.network))
    return contract.escrow_read(client, contract=escrow.deployment.address, onchain_id=escrow.onchain_id).state


def fee_of(w3, tx_hash: str) -> int:
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def test_eth_escrow_accepted_pays_the_recipient(flow, party, anvil_w3):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, amount="1.5", memo="Invoice 42")
    escrow = Escrow.objects.get(pk=escrow_id)
    assert anvil_w3.eth.get_balance(flow.deployment.address) == 3 * ETH // 2
    before = anvil_w3.eth.get_balance(recipient.address)
    submitted = flow.transition(recipient, escrow_id, "accept")
    assert flow.get(recipient, escrow_id).json()["status"] == "pending"  # mined, not indexed yet
    flow.index()
    shown = flow.get(recipient, escrow_id).json()
    assert shown["status"] == "accepted"
    assert shown["paid_to_recipient"] == "1.5"
    accept_hash = submitted["transaction_hashes"][0]
    assert shown["transaction_hashes"]["acceptance"] == accept_hash
    assert shown["transaction_hashes"]["release"] == accept_hash
    assert anvil_w3.eth.get_balance(recipient.address) == before + 3 * ETH // 2 - fee_of(anvil_w3, accept_hash)
    assert anvil_w3.eth.get_balance(flow.deployment.address) == 0
    assert onchain_state(escrow) == "accepted"


def test_token_escrow_accepted_moves_the_tokens(flow, party, deploy_token, anvil_w3):
    sender, recipient = party(), party()
    usdc = deploy_token("USDC", 6, {sender.address: 1_000 * 10**6})
    token = devchain.token_contract(anvil_w3, usdc)
    escrow_id = flow.created(sender, recipient, amount="250.5", asset="USDC")
    assert token.functions.balanceOf(sender.address).call() == 749_500_000
    flow.transition(recipient, escrow_id, "accept")
    flow.index()
    assert flow.get(sender, escrow_id).json()["status"] == "accepted"
    assert token.functions.balanceOf(recipient.address).call() == 250_500_000
    assert token.functions.balanceOf(flow.deployment.address).call() == 0


def test_reject_refunds_the_sender(flow, party, anvil_w3):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, amount="2")
    before = anvil_w3.eth.get_balance(sender.address)
    submitted = flow.transition(recipient, escrow_id, "reject")
    flow.index()
    shown = flow.get(sender, escrow_id).json()
    assert shown["status"] == "rejected"
    assert shown["refunded_to_sender"] == "2"
    assert shown["transaction_hashes"]["refund"] == submitted["transaction_hashes"][0]
    assert anvil_w3.eth.get_balance(sender.address) == before + 2 * ETH  # the recipient paid the gas


def test_cancel_refunds_the_sender(flow, party, deploy_token, anvil_w3):
    sender, recipient = party(), party()
    dai = deploy_token("DAI", 18, {sender.address: 100 * ETH})
    token = devchain.token_contract(anvil_w3, dai)
    escrow_id = flow.created(sender, recipient, amount="40", asset="DAI")
    assert token.functions.balanceOf(sender.address).call() == 60 * ETH
    flow.transition(sender, escrow_id, "cancel")
    flow.index()
    assert flow.get(recipient, escrow_id).json()["status"] == "cancelled"
    assert token.functions.balanceOf(sender.address).call() == 100 * ETH


def test_after_expiry_only_the_refund_is_offered_and_it_refunds(flow, party, anvil_w3, time_travel):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, amount="1", expires_in_hours=1)
    time_travel(3601)
    flow.index()  # reads the head's time: expiry is decided by chain time
    shown = flow.get(recipient, escrow_id).json()
    assert shown["status"] == "expired"
    assert shown["settled"] is False
    assert_error_shape(flow.prepare(recipient, escrow_id, "accept"), 409, "escrow_expired")
    assert_error_shape(flow.prepare(sender, escrow_id, "cancel"), 409, "escrow_expired")
    before = anvil_w3.eth.get_balance(sender.address)
    submitted = flow.transition(recipient, escrow_id, "refund")  # anyone of the two may settle it
    flow.index()
    shown = flow.get(sender, escrow_id).json()
    assert (shown["status"], shown["on_chain_state"], shown["settled"]) == ("expired", "expired", True)
    assert shown["transaction_hashes"]["refund"] == submitted["transaction_hashes"][0]
    assert anvil_w3.eth.get_balance(sender.address) == before + ETH


def test_refund_before_expiry_is_a_conflict(flow, party):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    assert_error_shape(flow.prepare(sender, escrow_id, "refund"), 409, "invalid_state")
    assert not EscrowAction.objects.filter(kind="refund").exists()


def test_dispute_then_resolution_splits_the_funds(flow, party, anvil_w3):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, amount="3")
    flow.transition(recipient, escrow_id, "dispute")
    flow.index()
    shown = flow.get(sender, escrow_id).json()
    assert shown["status"] == "disputed"
    assert shown["dispute_resolver"] == RESOLVER.address
    assert_error_shape(flow.prepare(recipient, escrow_id, "accept"), 409, "invalid_state")
    escrow = Escrow.objects.get(pk=escrow_id)
    sender_before = anvil_w3.eth.get_balance(sender.address)
    recipient_before = anvil_w3.eth.get_balance(recipient.address)
    data = contract.calldata("resolve", contract.id_bytes(escrow.onchain_id), 2 * ETH)
    assert send_call(anvil_w3, RESOLVER, to=flow.deployment.address, data=data)["status"] == 1
    flow.index()
    shown = flow.get(recipient, escrow_id).json()
    assert shown["status"] == "resolved"
    assert (shown["paid_to_recipient"], shown["refunded_to_sender"]) == ("2", "1")
    assert anvil_w3.eth.get_balance(recipient.address) == recipient_before + 2 * ETH
    assert anvil_w3.eth.get_balance(sender.address) == sender_before + ETH


def test_an_escrow_without_resolver_cannot_be_disputed(flow, party):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, dispute_resolver="0x0")
    assert_error_shape(flow.prepare(sender, escrow_id, "dispute"), 409, "no_resolver")


def test_the_state_changes_only_with_the_mined_event(flow, party, anvil_w3, mine):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    anvil_w3.provider.make_request("evm_setAutomine", [False])
    try:
        submitted = flow.transition(recipient, escrow_id, "accept", mined=False)
        flow.index()
        shown = flow.get(recipient, escrow_id).json()
        assert shown["status"] == "pending"  # sent, in the mempool: no event yet
        assert shown["pending_action"]["action"] == "accept"
        assert shown["pending_action"]["status"] == "submitted"
        assert shown["pending_action"]["tx_hashes"] == submitted["transaction_hashes"]
        mine(1)
        assert flow.get(recipient, escrow_id).json()["status"] == "pending"  # mined, not indexed
        flow.index()
        shown = flow.get(recipient, escrow_id).json()
        assert shown["status"] == "accepted"
        assert shown["pending_action"] is None
    finally:
        anvil_w3.provider.make_request("evm_setAutomine", [True])


def test_a_reorg_that_drops_the_accept_reverts_the_row(flow, party, anvil_w3, mine):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    fork = anvil_w3.provider.make_request("evm_snapshot", [])["result"]
    flow.transition(recipient, escrow_id, "accept")
    mine(2)
    flow.index()
    assert flow.get(recipient, escrow_id).json()["status"] == "accepted"
    anvil_w3.provider.make_request("evm_revert", [fork])  # the blocks holding the accept are gone
    mine(5)  # a longer chain without it
    flow.index()
    shown = flow.get(recipient, escrow_id).json()
    assert shown["status"] == "pending"
    assert shown["transaction_hashes"]["acceptance"] is None
    assert shown["paid_to_recipient"] is None


def test_a_transition_the_chain_already_refuses_is_a_conflict(flow, party, anvil_w3):
    """The row lags (not indexed yet) but the contract's own state is read before anything is prepared."""
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    escrow = Escrow.objects.get(pk=escrow_id)
    data = contract.calldata("accept", contract.id_bytes(escrow.onchain_id))
    assert send_call(anvil_w3, recipient.signer.account, to=flow.deployment.address, data=data)["status"] == 1
    response = flow.prepare(sender, escrow_id, "cancel")
    error = assert_error_shape(response, 409, "invalid_state")
    assert error["details"]["state"] == "accepted"


def test_asking_twice_returns_the_same_prepared_call_and_the_other_side_waits(flow, party):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    first = flow.prepare(recipient, escrow_id, "accept")
    second = flow.prepare(recipient, escrow_id, "accept")
    assert first.status_code == second.status_code == 200
    assert first.json()["transaction"] == second.json()["transaction"]
    error = assert_error_shape(flow.prepare(sender, escrow_id, "cancel"), 409, "transition_in_progress")
    assert error["details"] == {"action": "accept", "status": "prepared"}
    assert EscrowAction.objects.filter(escrow_id=escrow_id).exclude(kind="create").count() == 1


def test_a_lapsed_preparation_frees_the_escrow(flow, party, settings):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    settings.ESCROW_ACTION_TTL_SECONDS = 0
    assert flow.prepare(recipient, escrow_id, "accept").status_code == 200
    assert flow.prepare(sender, escrow_id, "cancel").status_code == 200
    kinds = dict(EscrowAction.objects.filter(escrow_id=escrow_id).values_list("kind", "status"))
    assert kinds["accept"] == EscrowAction.Status.LAPSED
    assert kinds["cancel"] == EscrowAction.Status.PREPARED


# --- who may do what ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "action", "code"),
    [
        ("sender", "accept", "not_recipient"),
        ("sender", "reject", "not_recipient"),
        ("recipient", "cancel", "not_sender"),
    ],
)
def test_each_transition_belongs_to_one_party(flow, party, who, action, code):
    parties = {"sender": party(), "recipient": party()}
    escrow_id = flow.created(parties["sender"], parties["recipient"])
    assert_error_shape(flow.prepare(parties[who], escrow_id, action), 403, code)
    assert not EscrowAction.objects.filter(kind=action).exists()


@pytest.mark.parametrize("action", ["accept", "reject", "cancel", "dispute", "refund"])
def test_a_stranger_gets_404_everywhere(flow, party, action):
    sender, recipient, stranger = party(), party(), party()
    escrow_id = flow.created(sender, recipient)
    assert_error_shape(flow.get(stranger, escrow_id), 404, "escrow_not_found")
    assert_error_shape(flow.prepare(stranger, escrow_id, action), 404, "escrow_not_found")
    response = stranger.client.post(
        f"/api/payments/escrow/{escrow_id}/submit", {"tx_hash": "0x" + "ab" * 32}, format="json"
    )
    assert_error_shape(response, 404, "escrow_not_found")
    assert stranger.client.get("/api/payments/escrow").json()["escrows"] == []


def test_the_list_shows_mine_as_sender_or_recipient_with_filters(flow, party):
    alice, bob, carol = party(), party(), party()
    to_bob = flow.created(alice, bob, amount="1")
    to_alice = flow.created(carol, alice, amount="2")
    flow.create(alice, recipient=carol.address, asset="ETH", amount="3")  # prepared only
    listed = alice.client.get("/api/payments/escrow").json()
    assert listed["total_count"] == 3
    assert {row["escrow_id"] for row in listed["escrows"]} >= {to_bob, to_alice}
    sent = alice.client.get("/api/payments/escrow", {"role": "recipient"}).json()["escrows"]
    assert [row["escrow_id"] for row in sent] == [to_alice]
    pending = alice.client.get("/api/payments/escrow", {"status": "pending"}).json()["escrows"]
    assert {row["escrow_id"] for row in pending} == {to_bob, to_alice}
    assert [row["escrow_id"] for row in bob.client.get("/api/payments/escrow").json()["escrows"]] == [to_bob]
    assert_error_shape(alice.client.get("/api/payments/escrow", {"status": "bogus"}), 400)
    assert Decimal(listed["escrows"][0]["amount"]) == 3


def test_each_party_is_offered_what_it_may_do_and_the_refund_after_expiry(flow, party, time_travel):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient, expires_in_hours=2)
    assert flow.get(recipient, escrow_id).json()["available_actions"] == ["accept", "reject", "dispute"]
    assert flow.get(sender, escrow_id).json()["available_actions"] == ["cancel", "dispute"]
    time_travel(2 * 3600 + 1)
    flow.index()
    for who in (sender, recipient):
        shown = flow.get(who, escrow_id).json()
        assert (shown["status"], shown["available_actions"]) == ("expired", ["refund"])


def test_a_transition_the_wallet_sent_itself_and_a_reorg_dropped_does_not_block_the_escrow(
    flow, party, anvil_w3, mine, settings
):
    """Prepared, broadcast by the wallet without /submit, indexed, then dropped by a reorg: the action is reopened
    with a deadline, and once it passes, the escrow takes other transitions again."""
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    fork = anvil_w3.provider.make_request("evm_snapshot", [])["result"]
    prepared = flow.prepare(recipient, escrow_id, "accept").json()
    anvil_w3.eth.wait_for_transaction_receipt(
        anvil_w3.eth.send_raw_transaction(recipient.sign(prepared["transaction"]))
    )
    flow.index()
    assert EscrowAction.objects.get(escrow_id=escrow_id, kind="accept").status == EscrowAction.Status.DONE
    anvil_w3.provider.make_request("evm_revert", [fork])
    anvil_w3.provider.make_request("evm_setAutomine", [True])
    send_call(anvil_w3, devchain.dev_account(7), to=devchain.dev_account(6).address, data=b"")  # a different block
    flow.index()
    assert flow.get(sender, escrow_id).json()["status"] == "pending"
    reopened = EscrowAction.objects.get(escrow_id=escrow_id, kind="accept")
    assert reopened.status == EscrowAction.Status.SUBMITTED  # it may still be mined on the new chain
    assert_error_shape(flow.prepare(sender, escrow_id, "cancel"), 409, "transition_in_progress")
    EscrowAction.objects.filter(pk=reopened.pk).update(prepared_until=reopened.prepared_until - timedelta(hours=1))
    assert flow.prepare(sender, escrow_id, "cancel").status_code == 200


def test_an_escrow_in_a_token_outside_the_registry_can_still_be_accepted(flow, party, deploy_token, anvil_w3):
    sender, recipient = party(), party()
    token = deploy_token("ODD", 18, {sender.address: 10 * ETH}, register=False)
    send_call(anvil_w3, sender.signer.account, to=token, data=contract.approve_data(flow.deployment.address, ETH))
    salt = secrets.token_bytes(32)
    expires = anvil_w3.eth.get_block("latest")["timestamp"] + 3600
    args = (salt, recipient.address, token, ETH, expires, b"\0" * 32, True, RESOLVER.address)
    create = contract.calldata("createToken", *args)
    assert send_call(anvil_w3, sender.signer.account, to=flow.deployment.address, data=create)["status"] == 1
    flow.index()
    escrow = Escrow.objects.get(onchain_id=contract.escrow_id(sender.address, salt))
    shown = flow.get(recipient, str(escrow.id)).json()
    assert (shown["status"], shown["asset"], shown["amount"], shown["token_address"]) == (
        "pending",
        None,
        str(ETH),
        token,
    )
    flow.transition(recipient, str(escrow.id), "accept")
    flow.index()
    shown = flow.get(recipient, str(escrow.id)).json()
    assert shown["status"] == "accepted"
    assert shown["confirmations"] >= 1
    assert devchain.token_contract(anvil_w3, token).functions.balanceOf(recipient.address).call() == ETH


def test_a_transition_whose_transaction_failed_can_be_sent_again(flow, party, anvil_w3):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    prepared = flow.prepare(recipient, escrow_id, "accept").json()
    starved = {**prepared["transaction"], "gas": hex(30_000)}  # runs out of gas on chain
    url = f"/api/payments/escrow/{escrow_id}/submit"
    first = recipient.client.post(url, {"signed_transaction": recipient.sign(starved)}, format="json")
    assert first.status_code == 202, first.content
    flow.mined(first.json()["transaction_hashes"])
    transactions_refresh_open(network="local")  # the tracker sees it fail
    action = EscrowAction.objects.get(escrow_id=escrow_id, kind="accept")
    assert action.chain_transaction.status == "failed"
    flow.index()
    assert flow.get(recipient, escrow_id).json()["status"] == "pending"
    retry = {**prepared["transaction"], "nonce": hex(int(prepared["transaction"]["nonce"], 16) + 1)}
    second = recipient.client.post(url, {"signed_transaction": recipient.sign(retry)}, format="json")
    assert second.status_code == 202, second.content
    assert len(second.json()["transaction_hashes"]) == 2
    flow.mined(second.json()["transaction_hashes"][1:])
    flow.index()
    assert flow.get(recipient, escrow_id).json()["status"] == "accepted"
