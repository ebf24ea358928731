"""AML screening of the counterparty of a transfer (apps/kyc): preparing or broadcasting a payment to a sanctioned
address is refused with 403 ``sanctioned_address``; tracking one the wallet already sent opens a case. Real anvil;
the Chainalysis-style API is a local double speaking its REST shape."""

from __future__ import annotations

import pytest
from eth_account import Account

from apps.kyc.models import AmlCase
from apps.kyc.tests.sdn_files import assert_sanctioned, sanction
from apps.transactions.models import ChainTransaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("spelling", ["checksummed", "lower"])
def test_preparing_a_payment_to_a_sanctioned_address_is_refused(tmp_path, chain, party, spelling):
    alice, to = party(), Account.create().address
    sanction(tmp_path, ("ETH", to.lower() if spelling == "checksummed" else to))
    assert_sanctioned(
        alice.prepare(asset="ETH", to_address=to if spelling == "checksummed" else to.lower(), amount="0.1")
    )
    case = AmlCase.objects.get()
    assert (case.user, case.context, case.address) == (alice.user, "transaction_prepare", to)


def test_broadcasting_a_payment_to_a_sanctioned_address_is_refused_and_nothing_is_sent(
    tmp_path,
    chain,
    party,
    anvil_w3,
):
    alice, to = party(), Account.create().address
    prepared = alice.prepare(asset="ETH", to_address=to, amount="0.2")
    assert prepared.status_code == 200, prepared.content
    signed = alice.sign(prepared.json()["transaction"])
    sanction(tmp_path, ("ETH", to))
    assert_sanctioned(alice.broadcast(asset="ETH", to_address=to, amount="0.2", signed_transaction=signed))
    assert not ChainTransaction.objects.exists()
    assert anvil_w3.eth.get_balance(to) == 0
    assert AmlCase.objects.get().context == "transaction_broadcast"


def test_tracking_a_transfer_the_wallet_already_sent_to_a_sanctioned_address_opens_a_case(
    tmp_path,
    chain,
    party,
    anvil_w3,
):
    alice, to = party(), Account.create().address
    prepared = alice.prepare(asset="ETH", to_address=to, amount="0.3")
    tx_hash = anvil_w3.eth.send_raw_transaction(alice.sign(prepared.json()["transaction"])).to_0x_hex()
    sanction(tmp_path, ("ETH", to))
    response = alice.broadcast(tx_hash=tx_hash, asset="ETH", to_address=to, amount="0.3")
    assert response.status_code == 201, response.content  # on chain already: recorded, not refused
    case = AmlCase.objects.get()
    assert (case.user, case.context, case.status) == (alice.user, "transaction_track", "open")


def test_a_payment_the_screening_api_flags_is_refused(chainalysis, chain, party):
    alice, to = party(), Account.create().address
    chainalysis.sanction(to, name="SANCTIONS: OFAC SDN TEST DOUBLE")
    assert_sanctioned(alice.prepare(asset="ETH", to_address=to.lower(), amount="0.1"))
    case = AmlCase.objects.get()
    assert (case.source, case.context) == ("chainalysis", "transaction_prepare")
    assert case.match["identifications"][0]["category"] == "sanctions"
    assert chainalysis.requests[-1].lower() == to.lower()


def test_a_wallet_listed_after_it_was_linked_cannot_send(tmp_path, chain, party):
    alice, to = party(), Account.create().address
    prepared = alice.prepare(asset="ETH", to_address=to, amount="0.1")
    assert prepared.status_code == 200, prepared.content
    signed = alice.sign(prepared.json()["transaction"])
    sanction(tmp_path, ("ETH", alice.address))
    assert_sanctioned(alice.prepare(asset="ETH", to_address=to, amount="0.1"))
    assert_sanctioned(alice.broadcast(asset="ETH", to_address=to, amount="0.1", signed_transaction=signed))
    assert not ChainTransaction.objects.exists()
    assert AmlCase.objects.filter(user=alice.user, status="open").exists()
