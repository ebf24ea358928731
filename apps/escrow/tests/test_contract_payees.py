"""Payees that fight back cannot block a payout: one answering with a huge return payload is paid anyway (the
contract does not copy return data)."""

from __future__ import annotations

import secrets

import pytest

from apps.chains import devchain
from apps.chains.solidity import artifact
from apps.escrow import chain as contract
from apps.escrow.chain import ESCROW_CONTRACTS
from apps.escrow.tests.conftest import RESOLVER, send_call

pytestmark = pytest.mark.django_db
TESTING = ESCROW_CONTRACTS / "artifacts" / "testing"
ETH = 10**18


def test_a_payee_answering_with_a_huge_payload_is_paid_and_the_resolution_goes_through(escrow_chain, anvil_w3):
    compiled = artifact("ReturnBomb", TESTING)
    data = anvil_w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"]).constructor().data_in_transaction
    bomb = devchain.send(anvil_w3, devchain.dev_account(0), {"data": data, "gas": 1_000_000})["contractAddress"]
    sender = devchain.dev_account(3)
    salt = secrets.token_bytes(32)
    expires = anvil_w3.eth.get_block("latest")["timestamp"] + 3600
    create = contract.calldata("createEth", salt, bomb, expires, b"\0" * 32, True, RESOLVER.address)
    assert send_call(anvil_w3, sender, to=escrow_chain.address, data=create, value=ETH)["status"] == 1
    onchain_id = contract.id_bytes(contract.escrow_id(sender.address, salt))
    assert send_call(anvil_w3, sender, to=escrow_chain.address, data=contract.calldata("dispute", onchain_id))["status"]
    before = anvil_w3.eth.get_balance(bomb)
    resolve = contract.calldata("resolve", onchain_id, ETH // 4)
    receipt = send_call(anvil_w3, RESOLVER, to=escrow_chain.address, data=resolve, gas=3_000_000)
    assert receipt["status"] == 1
    assert anvil_w3.eth.get_balance(bomb) == before + ETH // 4  # paid, not deferred
    names = [
        decoded.name
        for log in receipt["logs"]
        if (
            decoded := contract.decode_log(
                ["0x" + bytes(t).hex() for t in log["topics"]], "0x" + bytes(log["data"]).hex()
            )
        )
    ]
    assert names == ["resolved"]
