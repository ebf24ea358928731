"""Fixtures for escrow tests: the contract deployed for real on the session's anvil by ``manage.py
escrow_deploy``, parties with wallet keys, chain time travel that is undone after each test."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.chains import devchain

OPERATOR = devchain.dev_account(8)  # deploys the contract
RESOLVER = devchain.dev_account(9)  # EngiPay's dispute resolver key (held by staff, never by the server)


@pytest.fixture(autouse=True)
def chain_restored(anvil_w3) -> Iterator[None]:
    """Everything a test does on the shared anvil (time travel, reorg drills, deployments) is undone after it:
    later tests see chain time close to the wall clock again."""
    snapshot = anvil_w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    anvil_w3.provider.make_request("evm_setAutomine", [True])
    anvil_w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def escrow_chain(settings, db, local_chain, anvil_w3):
    """The ``local`` chain (1 confirmation) with EngiPayEscrow deployed by the operator key from the settings
    (as from the environment) and the platform resolver configured. Returns the EscrowDeployment."""
    from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment
    from apps.escrow.models import EscrowDeployment
    from apps.prices.models import AssetPrice

    settings.ESCROW_OPERATOR_PRIVATE_KEY = OPERATOR.key.hex()
    settings.ESCROW_RESOLVER_ADDRESS = RESOLVER.address
    eth, _ = Token.objects.get_or_create(symbol="ETH", defaults={"name": "Ethereum", "coingecko_id": "ethereum"})
    TokenDeployment.objects.update_or_create(
        chain="local", token=eth, defaults={"address": NATIVE_ADDRESS, "decimals": 18, "is_native": True}
    )
    # A price for the KYC limit check on create, recent enough to count.
    AssetPrice.objects.create(token=eth, price_usd=Decimal(3000), source="coingecko", observed_at=timezone.now())
    call_command("escrow_deploy", "--network", "local", stdout=io.StringIO())
    return EscrowDeployment.objects.get(network="local")


@pytest.fixture
def time_travel(anvil_w3) -> Callable[[int], int]:
    """``time_travel(seconds)``: chain time jumps ahead and a block is mined; returns the new block's time."""

    def travel(seconds: int) -> int:
        anvil_w3.provider.make_request("evm_increaseTime", [seconds])
        anvil_w3.provider.make_request("evm_mine", [])
        return anvil_w3.eth.get_block("latest")["timestamp"]

    return travel


def send_call(w3, account: Any, *, to: str, data: bytes, value: int = 0, gas: int = 500_000) -> dict[str, Any]:
    """Sign and send a contract call with ``account`` (eth-account); the receipt, reverted or not."""
    tx = {
        "from": account.address,
        "to": to,
        "data": "0x" + data.hex(),
        "value": value,
        "gas": gas,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": w3.eth.gas_price * 2 + 1,
        "maxPriorityFeePerGas": 1,
    }
    signed = account.sign_transaction(tx)
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)
