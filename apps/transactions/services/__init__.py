"""Transaction services: prepare, broadcast (or track a hash), refresh from the chain."""

from __future__ import annotations

from .broadcast import transaction_broadcast, transaction_track_hash
from .prepare import transaction_prepare
from .tracking import transaction_refresh_from_chain, transactions_refresh_open

__all__ = [
    "transaction_broadcast",
    "transaction_prepare",
    "transaction_refresh_from_chain",
    "transaction_track_hash",
    "transactions_refresh_open",
]
