"""``client_for(chain_key)``: the chain client of a configured network."""

from __future__ import annotations

from apps.chains.registry import ChainConfig, chain
from engipay.api.errors import InvalidInput

from .base import BalanceQuery, BalanceSnapshot, BlockRef, ChainClient
from .evm import EvmClient

__all__ = ["BalanceQuery", "BalanceSnapshot", "BlockRef", "ChainClient", "EvmClient", "client_for"]


def client_for(chain_key: str | ChainConfig) -> ChainClient:
    config = chain(chain_key) if isinstance(chain_key, str) else chain_key
    if config.kind == "evm":
        return EvmClient(config)
    raise InvalidInput("network_not_supported", f"{config.kind} chains are not supported yet.")
