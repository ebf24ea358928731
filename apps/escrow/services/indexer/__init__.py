"""The escrow indexer: the contract's events read from the chain in batches, stored as ``EscrowEvent`` rows and
projected onto ``Escrow`` (status, payouts, block) and its ``EscrowAction`` rows. It is the only writer of an
escrow's status and chain fields (DESIGN.md section 2).

``escrow_index`` runs from the chain tracker on every new head (a head hook) and from beat. One run per deployment
at a time: each batch locks the deployment row (a second run finds it locked and returns ``busy``) and commits on
its own, so a crash loses at most the batch in flight and a rerun never applies an event twice. A reorg shows as a
stored block hash the chain no longer has (``IndexedBlock``): everything above the fork point is forgotten
(``escrow_index_rewind``), the escrows it touched are recomputed from the events that remain, and the next batch
reads the new chain.
"""

from .base import IndexResult
from .notices import escrows_expiry_notify
from .rewind import escrow_index_rewind
from .run import escrow_index, escrow_index_all, escrow_index_on_head

__all__ = [
    "IndexResult",
    "escrow_index",
    "escrow_index_all",
    "escrow_index_on_head",
    "escrow_index_rewind",
    "escrows_expiry_notify",
]
