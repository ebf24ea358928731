"""A payout the receiver's address refuses is kept by the contract (PaymentDeferred); the API shows it and
prepares the withdrawal to an address the receiver chooses."""

from __future__ import annotations

import pytest
from eth_account import Account

from apps.chains import devchain
from apps.chains.models import Token, TokenDeployment
from apps.chains.solidity import artifact
from apps.escrow.chain import ESCROW_CONTRACTS
from apps.escrow.tests.conftest import send_call
from apps.kyc.tests.sdn_files import assert_sanctioned, sanction
from apps.transactions.services import transactions_refresh_open
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

TESTING = ESCROW_CONTRACTS / "artifacts" / "testing"


def usdt_like(w3, holder: str) -> tuple[str, object]:
    """The USDT-style test token (no return values, a blacklist), registered for ``local`` as USDT."""
    compiled = artifact("NoReturnToken", TESTING)
    data = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"]).constructor(holder, 10**12)
    receipt = devchain.send(w3, devchain.dev_account(0), {"data": data.data_in_transaction, "gas": 3_000_000})
    address = receipt["contractAddress"]
    token, _ = Token.objects.get_or_create(symbol="USDT", defaults={"name": "Tether (test)"})
    TokenDeployment.objects.update_or_create(chain="local", token=token, defaults={"address": address, "decimals": 6})
    return address, w3.eth.contract(address=address, abi=compiled["abi"])


def test_a_payout_refused_by_the_recipient_is_kept_and_withdrawn_elsewhere(flow, party, anvil_w3):
    sender, recipient = party(), party()
    address, token = usdt_like(anvil_w3, sender.address)
    escrow_id = flow.created(sender, recipient, amount="75", asset="USDT")
    blacklist = token.functions.blacklist(recipient.address)._encode_transaction_data()
    send_call(anvil_w3, devchain.dev_account(0), to=address, data=bytes.fromhex(blacklist[2:]))
    assert_error_shape(flow.prepare(recipient, escrow_id, "withdraw"), 409, "nothing_owed")

    flow.transition(recipient, escrow_id, "accept")
    flow.index()
    shown = flow.get(recipient, escrow_id).json()
    assert shown["status"] == "accepted"
    assert shown["deferred_payouts"] == [{"to": recipient.address, "amount": "75"}]
    assert "withdraw" in shown["available_actions"]
    assert token.functions.balanceOf(recipient.address).call() == 0
    assert token.functions.balanceOf(flow.deployment.address).call() == 75 * 10**6

    elsewhere = Account.create().address
    assert_error_shape(flow.prepare(sender, escrow_id, "withdraw"), 409, "nothing_owed")  # not the sender's
    prepared = recipient.client.post(f"/api/payments/escrow/{escrow_id}/withdraw", {"to": elsewhere}, format="json")
    assert prepared.status_code == 200, prepared.content
    assert prepared.json()["signer"] == recipient.address
    submitted = flow.submit(recipient, escrow_id, prepared.json())
    assert submitted.status_code == 202
    flow.mined(submitted.json()["transaction_hashes"])
    assert token.functions.balanceOf(elsewhere).call() == 75 * 10**6
    assert token.functions.balanceOf(flow.deployment.address).call() == 0
    assert_error_shape(flow.prepare(recipient, escrow_id, "withdraw"), 409, "transition_in_progress")
    transactions_refresh_open(network="local")  # the chain tracker confirms the withdrawal
    assert_error_shape(flow.prepare(recipient, escrow_id, "withdraw"), 409, "nothing_owed")


def accepted_by_a_blacklisted_recipient(flow, party, anvil_w3) -> tuple[object, str, str]:
    """A 5 USDT escrow the recipient accepted while the token blacklisted it: the payout is kept for it.
    Returns (recipient, escrow id, token address)."""
    sender, recipient = party(), party()
    address, token = usdt_like(anvil_w3, sender.address)
    escrow_id = flow.created(sender, recipient, amount="5", asset="USDT")
    blacklist = token.functions.blacklist(recipient.address)._encode_transaction_data()
    send_call(anvil_w3, devchain.dev_account(0), to=address, data=bytes.fromhex(blacklist[2:]))
    flow.transition(recipient, escrow_id, "accept")
    flow.index()
    return recipient, escrow_id, address


def test_a_stranger_cannot_withdraw(flow, party):
    sender, recipient, stranger = party(), party(), party()
    escrow_id = flow.created(sender, recipient)
    assert_error_shape(flow.prepare(stranger, escrow_id, "withdraw"), 404, "escrow_not_found")


def test_a_withdrawal_to_a_sanctioned_address_is_refused(flow, party, anvil_w3, tmp_path):
    recipient, escrow_id, _ = accepted_by_a_blacklisted_recipient(flow, party, anvil_w3)
    listed = Account.create().address
    sanction(tmp_path, ("ETH", listed))
    response = recipient.client.post(f"/api/payments/escrow/{escrow_id}/withdraw", {"to": listed}, format="json")
    assert_sanctioned(response)


def test_asking_again_with_another_destination_replaces_the_prepared_withdrawal(flow, party, anvil_w3):
    recipient, escrow_id, address = accepted_by_a_blacklisted_recipient(flow, party, anvil_w3)
    url = f"/api/payments/escrow/{escrow_id}/withdraw"
    first, second = Account.create().address, Account.create().address
    to_first = recipient.client.post(url, {"to": first}, format="json").json()
    assert recipient.client.post(url, {"to": first}, format="json").json()["transaction"] == to_first["transaction"]
    to_second = recipient.client.post(url, {"to": second}, format="json").json()
    assert second[2:].lower() in to_second["transaction"]["data"]
    assert first[2:].lower() not in to_second["transaction"]["data"]
    for target in ("0x" + "0" * 40, flow.deployment.address, address):
        response = recipient.client.post(url, {"to": target}, format="json")
        assert_error_shape(response, 400, "invalid_destination")
