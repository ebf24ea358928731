"""Pytest fixtures for the Starknet JSON-RPC test double (registered by the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.doubles.starknet_rpc import StarknetDouble
from tests.doubles.starknet_signing import keypair

STARTING_BALANCES = {"STRK": 10 * 10**18, "ETH": 10**18, "USDC": 100 * 10**6}


@dataclass(frozen=True)
class StarknetTestAccount:
    address: str  # hex felt
    private_key: int
    public_key: int


@pytest.fixture(scope="session")
def starknet_node() -> Iterator[StarknetDouble]:
    """A strict Starknet double (every response validated against the v0.10.2 spec) for the whole session.
    Blocks close only on demand (``create_block()`` / ``devnet_createBlock``)."""
    node = StarknetDouble(strict=True).start()
    try:
        yield node
    finally:
        node.stop()
    assert not node.violations, "Starknet double produced spec-invalid responses:\n" + "\n".join(node.violations)


@pytest.fixture
def starknet_account(starknet_node: StarknetDouble) -> StarknetTestAccount:
    """A freshly deployed OpenZeppelin-style account with a fresh key and 10 STRK, 1 ETH and 100 USDC."""
    keys = keypair()
    address = starknet_node.deploy_account(keys.private_key)
    for symbol, amount in STARTING_BALANCES.items():
        starknet_node.mint(address, symbol, amount)
    return StarknetTestAccount(address=address, private_key=keys.private_key, public_key=keys.public_key)
