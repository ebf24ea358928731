"""The chain client interface, one implementation per chain kind (EVM now; Starknet and Bitcoin in issue 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from apps.chains.registry import ChainConfig


@dataclass(frozen=True)
class BlockRef:
    number: int
    hash: str | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class BalanceQuery:
    owner: str
    asset_address: str  # the zero address for the native coin


@dataclass(frozen=True)
class BalanceSnapshot:
    """Balances in base units, read at one block. ``None`` = this one balance could not be read."""

    block: BlockRef
    balances: dict[BalanceQuery, int | None]


class ChainClient(Protocol):
    chain: ChainConfig

    def head(self) -> BlockRef: ...

    def balances(self, queries: list[BalanceQuery]) -> BalanceSnapshot: ...
