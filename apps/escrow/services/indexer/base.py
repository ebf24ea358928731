"""What every part of the indexer shares: the event-to-status and event-to-action maps, the projected fields, the
in-memory event and token shapes, the registry's tokens, and the package's one logger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.chains.models import TokenDeployment
from apps.escrow.models import Escrow, EscrowAction, EscrowEvent

# One logger for the package, named as the module it was split from (apps.escrow.services.indexer).
logger = logging.getLogger(__package__)

Name = EscrowEvent.Name
Status = Escrow.Status
Kind = EscrowAction.Kind
ActionStatus = EscrowAction.Status

STATUS_AFTER = {
    Name.CREATED: Status.PENDING,
    Name.ACCEPTED: Status.ACCEPTED,
    Name.REJECTED: Status.REJECTED,
    Name.CANCELLED: Status.CANCELLED,
    Name.EXPIRED: Status.EXPIRED,
    Name.DISPUTED: Status.DISPUTED,
    Name.RESOLVED: Status.RESOLVED,
}
ACTION_OF = {
    Name.CREATED: Kind.CREATE,
    Name.ACCEPTED: Kind.ACCEPT,
    Name.REJECTED: Kind.REJECT,
    Name.CANCELLED: Kind.CANCEL,
    Name.DISPUTED: Kind.DISPUTE,
    Name.EXPIRED: Kind.REFUND,
    Name.RESOLVED: Kind.RESOLVE,
}
PROJECTION_FIELDS = [
    "status",
    "block_number",
    "block_hash",
    "paid_to_recipient_base",
    "refunded_to_sender_base",
    "disputed_by",
    "updated_at",
]
# What EscrowCreated says about the escrow; the chain wins over what the API stored.
CREATED_FIELDS = [
    "sender_address",
    "recipient_address",
    "token_address",
    "token",
    "decimals",
    "amount_base",
    "expires_at",
    "memo_hash",
    "require_confirmation",
    "resolver_address",
]


@dataclass(frozen=True)
class IndexResult:
    from_block: int  # the first block this run read (from_block > to_block: nothing new)
    to_block: int  # the last block indexed (committed) by this run
    events: int
    rewound_to: int | None = None  # a reorg was undone down to this block
    busy: bool = False  # another run holds the deployment


@dataclass(frozen=True)
class _Token:
    id: int
    decimals: int
    symbol: str


@dataclass
class _Event:
    name: str
    onchain_id: str
    args: dict[str, Any]  # JSON-ready: integers as decimal strings
    block_number: int
    block_hash: str
    block_time: datetime | None
    tx_hash: str
    log_index: int


def _tokens(network: str) -> dict[str, _Token]:
    """The registry's tokens on ``network`` by lower-case address (the zero address: the native coin)."""
    rows = TokenDeployment.objects.filter(chain=network).select_related("token")
    return {row.address.lower(): _Token(row.token_id, row.decimals, row.token.symbol) for row in rows}
