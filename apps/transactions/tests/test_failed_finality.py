"""A failed transaction stays followed until its block is final: a reorg could still include it successfully."""

from __future__ import annotations

import pytest
from eth_account import Account

from apps.chains.clients import evm_rpc as evm

from .test_tracking import refresh

pytestmark = pytest.mark.django_db


def test_a_failed_transfer_is_followed_until_its_block_is_final(chain, party, mine, deploy_token):
    from apps.notifications.models import Notification

    alice, to = party(), Account.create().address
    deploy_token("TFAIL", 6, {alice.address: 10**6})
    prepared = alice.prepare(asset="TFAIL", to_address=to, amount="1").json()["transaction"]
    tx = {**prepared, "data": "0x" + evm.erc20_transfer_data(to, 2 * 10**6).hex(), "gas": hex(100_000)}
    sent = alice.broadcast(asset="TFAIL", to_address=to, amount="2", signed_transaction=alice.sign(tx)).json()
    mine(1)
    record = refresh(sent["transaction_id"])
    assert (record.status, record.finalized_at) == ("failed", None)
    assert record.is_open  # a reorg could still include it elsewhere, successfully
    mine(70)
    record = refresh(sent["transaction_id"])
    assert record.status == "failed"
    assert record.finalized_at is not None
    assert not record.is_open
    assert alice.status(record.tx_hash).json()["finalized"] is True
    kinds = list(Notification.objects.filter(user=alice.user).values_list("kind", flat=True))
    assert kinds.count("transaction_failed") == 1
