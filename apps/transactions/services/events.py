"""The status history rows and the notification payload shared by broadcast and tracking."""

from __future__ import annotations

from typing import Any

from apps.chains.units import from_base_units
from apps.transactions.models import ChainTransaction, ChainTransactionEvent


def event_record(*, transaction: ChainTransaction, from_status: str, note: str = "") -> ChainTransactionEvent:
    return ChainTransactionEvent.objects.create(
        transaction=transaction,
        from_status=from_status,
        to_status=transaction.status,
        block_number=transaction.block_number,
        block_hash=transaction.block_hash,
        note=note[:300],
    )


def notification_data(record: ChainTransaction) -> dict[str, Any]:
    return {
        "transaction_id": str(record.id),
        "tx_hash": record.tx_hash,
        "network": record.network,
        "status": record.status,
        "amount": from_base_units(record.amount_base, record.decimals),
        "asset": record.asset.symbol,
        "type": record.type,
        "to_address": record.to_address,
        "confirmations": record.confirmations,
        "block_number": None if record.block_number is None else str(record.block_number),
        "revert_reason": record.revert_reason or None,
    }


_NOUNS = {
    ChainTransaction.Type.SEND: "transfer",
    ChainTransaction.Type.ESCROW: "escrow transaction",
    ChainTransaction.Type.APPROVAL: "token approval",
}


def noun(record: ChainTransaction) -> str:
    """What the transaction is, in notifications ("Your ETH transfer …", "Your USDC escrow transaction …")."""
    return _NOUNS.get(record.type, "transaction")
