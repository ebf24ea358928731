"""``client_for(chain_key)``: the chain client of a configured network."""

from __future__ import annotations

from apps.chains.registry import ChainConfig, chain
from engipay.api.errors import InvalidInput

from .base import BalanceQuery, BalanceSnapshot, BlockRef, ChainClient
from .bitcoin import BitcoinClient
from .evm import EvmClient
from .starknet import StarknetClient

__all__ = [
    "BalanceQuery",
    "BalanceSnapshot",
    "BitcoinClient",
    "BlockRef",
    "ChainClient",
    "EvmClient",
    "StarknetClient",
    "client_for",
]


def client_for(chain_key: str | ChainConfig) -> ChainClient:
    config = chain(chain_key) if isinstance(chain_key, str) else chain_key
    if config.kind == "evm":
        return EvmClient(config)
    if config.kind == "starknet":
        return StarknetClient(config)
    if config.kind == "bitcoin":
        return BitcoinClient(config)
    raise InvalidInput("network_not_supported", f"{config.kind} chains are not supported yet.")
