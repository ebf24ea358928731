"""The chain client interface, one implementation per chain kind: EVM (web3.py), Starknet (starknet-py), Bitcoin
(Esplora). Everything above ``apps.chains`` talks to a chain through these types only.

Reads: ``head`` and ``balances``. Transfers (DESIGN.md section 1, prepare → sign → submit → track):
``prepare_transfer`` builds what the wallet signs, ``decode_signed`` reads a signed transaction back (who sends
what to whom; refuses one for another chain), ``send`` submits it, ``lookup`` reads a transaction the wallet sent
itself, and ``observe`` says where a transaction stands, in our statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.chains.registry import ChainConfig
from apps.chains.units import from_base_units
from engipay.api.errors import InvalidInput


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
    """Balances in base units, read at one block. ``None`` = this one balance could not be read.

    ``unconfirmed``: where the chain has a mempool view (Bitcoin), the not-yet-confirmed change per query.
    """

    block: BlockRef
    balances: dict[BalanceQuery, int | None]
    unconfirmed: dict[BalanceQuery, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetRef:
    symbol: str
    contract: str | None  # None: the chain's native coin (BTC)
    decimals: int


@dataclass(frozen=True)
class TransferIntent:
    sender: str
    recipient: str
    asset: AssetRef
    amount_base: int


@dataclass(frozen=True)
class PreparedTransfer:
    """What the wallet signs (chain-specific, JSON-ready) and the fee it will cost."""

    unsigned: dict[str, Any]
    fee_asset: AssetRef
    fee_expected_base: int | None  # the estimate
    fee_max_base: int | None  # the most the signed transaction can spend on fees
    fee_details: dict[str, Any] = field(default_factory=dict)  # JSON-ready chain-specific figures


@dataclass(frozen=True)
class Submission:
    """A signed (or already sent) transaction read back: who sends what to whom."""

    tx_hash: str
    sender: str
    recipient: str | None
    contract: str | None  # the token contract; None for the native coin
    amount_base: int | None
    nonce: int | None = None
    raw: str = ""  # what to send again if the network forgets it (hex, or JSON)
    fee_max_base: int | None = None
    fee_terms: dict[str, int] = field(default_factory=dict)  # EVM: gas_limit, max_fee_per_gas, max_priority_fee…


class TxStatus:
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FINALIZED = "finalized"
    FAILED = "failed"
    DROPPED = "dropped"


@dataclass(frozen=True)
class Observation:
    """Where a transaction stands on the chain, in our statuses.

    ``found`` False: the network does not know the hash (never arrived, or forgotten); the caller may ``send``
    the raw transaction again. ``final``: the outcome cannot change any more (finalized, or failed in a
    finalized block).
    """

    status: str
    found: bool = True
    block_number: int | None = None
    block_hash: str | None = None
    block_timestamp: int | None = None
    confirmations: int = 0
    fee_paid_base: int | None = None  # in the chain's fee asset
    final: bool = False
    revert_reason: str = ""
    note: str = ""
    fee_terms: dict[str, int] = field(default_factory=dict)  # EVM: gas_used, effective_gas_price


def require_funds(available: int, required: int, asset: AssetRef, what: str) -> None:
    """400 ``insufficient_funds`` naming both amounts in token units, the same on every chain."""
    if available < required:
        raise InvalidInput(
            "insufficient_funds",
            f"Insufficient {asset.symbol} balance: {from_base_units(required, asset.decimals)} {asset.symbol} "
            f"needed {what}, {from_base_units(available, asset.decimals)} {asset.symbol} available.",
            {
                "asset": asset.symbol,
                "required": from_base_units(required, asset.decimals),
                "available": from_base_units(available, asset.decimals),
            },
        )


class ChainClient(Protocol):
    chain: ChainConfig

    def head(self) -> BlockRef: ...

    def balances(self, queries: list[BalanceQuery]) -> BalanceSnapshot: ...


class TransferClient(ChainClient, Protocol):
    """The transfer side, implemented by every client (EVM, Starknet, Bitcoin)."""

    def fee_asset(self) -> AssetRef: ...

    def validate_address(self, address: str) -> str:
        """The address in its one normalised spelling; InvalidInput (400) if malformed or of another network."""
        ...

    def normalize_tx_hash(self, tx_hash: str) -> str:
        """The one stored spelling of a transaction hash; InvalidInput (400) if it cannot be one."""
        ...

    def prepare_transfer(self, intent: TransferIntent) -> PreparedTransfer: ...

    def decode_signed(self, signed: Any) -> Submission:
        """Read a signed transaction; InvalidInput if it is malformed or signed for another chain."""
        ...

    def send(self, submission: Submission) -> str:
        """Submit; returns the hash. InvalidInput (400) when the node refuses it, idempotent on a known hash."""
        ...

    def lookup(self, tx_hash: str) -> Submission | None:
        """A transaction the wallet sent itself, read from the network; None if the network does not know it."""
        ...

    def sweep_context(self) -> Any:
        """What ``observe`` needs to know about the chain once per sweep (EVM: head and finalized block)."""
        ...

    def observe(
        self, submission: Submission, *, previous: Observation | None = None, context: Any = None
    ) -> Observation:
        """``previous``: what was observed last time (saves reads that cannot have changed, e.g. a block's time).
        ``context``: ``sweep_context()`` of this sweep, or None to read it now."""
        ...
