"""Fixtures for escrow tests: the contract deployed for real on the session's anvil by ``manage.py
escrow_deploy``, parties with wallet keys, chain time travel that is undone after each test."""

from __future__ import annotations

import io
import time
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
def evidence_root(settings, tmp_path):
    """Dispute evidence goes to a fresh folder for the test; returns it (list it to see what was stored)."""
    root = tmp_path / "private-escrow"
    root.mkdir()
    settings.ESCROW_PRIVATE_ROOT = str(root)
    return root


@pytest.fixture
def time_travel(anvil_w3) -> Callable[[int], int]:
    """``time_travel(seconds)``: a block is mined ``seconds`` after now (the later of the wall clock and chain
    time: after an evm_revert anvil's clock may lag the wall clock); returns the new block's time."""

    def travel(seconds: int) -> int:
        latest = anvil_w3.eth.get_block("latest")["timestamp"]
        anvil_w3.provider.make_request("evm_setNextBlockTimestamp", [max(latest, int(time.time())) + seconds])
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


@pytest.fixture
def unlimited(settings, db) -> Iterator[None]:
    """KYC limits out of the way (test_create_over_the_kyc_limit_is_refused checks them), and every token a test
    registers gets a USD price of 1, so the limit check can value it."""
    from django.db.models.signals import post_save

    from apps.chains.models import Token
    from apps.prices.models import AssetPrice

    big = {"daily": "1000000000", "monthly": "1000000000"}
    settings.KYC_LIMITS = {tier: big for tier in ("tier_0", "tier_1", "tier_2")}

    def priced(sender, instance, created, **kwargs) -> None:
        if created:
            AssetPrice.objects.create(
                token=instance, price_usd=Decimal(1), source="coingecko", observed_at=timezone.now()
            )

    for token in Token.objects.exclude(symbol="ETH"):
        priced(Token, token, created=True)
    post_save.connect(priced, sender=Token, dispatch_uid="escrow_priced")
    yield
    post_save.disconnect(sender=Token, dispatch_uid="escrow_priced")


class Flow:
    """Drive escrows through the API the way the frontend does: prepare → sign with eth-account → submit; and
    index the chain the way the tracker does."""

    def __init__(self, deployment, w3) -> None:
        self.deployment = deployment
        self.w3 = w3

    def mined(self, tx_hashes: list[str]) -> None:
        """Wait for the receipts (anvil mines right after a send, but not before it answers)."""
        for tx_hash in tx_hashes:
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)

    def create(self, party, **body: Any):
        return party.client.post("/api/payments/escrow/create", body, format="json")

    def get(self, party, escrow_id: str):
        return party.client.get(f"/api/payments/escrow/{escrow_id}")

    def prepare(self, party, escrow_id: str, action: str):
        return party.client.post(f"/api/payments/escrow/{escrow_id}/{action}", format="json")

    def submit(self, party, escrow_id: str, prepared: dict[str, Any]):
        signed = [party.sign(step["transaction"]) for step in prepared["transactions"]]
        return party.client.post(
            f"/api/payments/escrow/{escrow_id}/submit", {"signed_transactions": signed}, format="json"
        )

    def index(self) -> Any:
        from apps.escrow.services.indexer import escrow_index

        return escrow_index(network=self.deployment.network)

    def created(self, sender, recipient, *, amount: str = "1", asset: str = "ETH", **body: Any) -> str:
        """An escrow on chain and indexed (status pending); its id."""
        response = self.create(sender, recipient=recipient.address, amount=amount, asset=asset, **body)
        assert response.status_code == 201, response.content
        escrow_id = response.json()["escrow_id"]
        submitted = self.submit(sender, escrow_id, response.json())
        assert submitted.status_code == 202, submitted.content
        self.mined(submitted.json()["transaction_hashes"])
        self.index()
        assert self.get(sender, escrow_id).json()["status"] == "pending"
        return escrow_id

    def transition(self, party, escrow_id: str, action: str, *, mined: bool = True) -> dict[str, Any]:
        """prepare → sign → submit ``action`` (and wait for it to be mined); the submit response (not indexed)."""
        prepared = self.prepare(party, escrow_id, action)
        assert prepared.status_code == 200, prepared.content
        submitted = self.submit(party, escrow_id, prepared.json())
        assert submitted.status_code == 202, submitted.content
        if mined:
            self.mined(submitted.json()["transaction_hashes"])
        return submitted.json()


@pytest.fixture
def flow(escrow_chain, unlimited, anvil_w3) -> Flow:
    return Flow(escrow_chain, anvil_w3)
