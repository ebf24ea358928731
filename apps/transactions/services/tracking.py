"""Step 4 of DESIGN.md section 1: follow a transaction to finality from what the node says (section 2).

Called by the head follower (`chain_tracker`) on every new head and by the beat safety net; both are
idempotent: the row is locked, the chain is read, and only a change of status writes an event and notifies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from apps.chains.clients import EvmClient, client_for
from apps.chains.registry import ChainConfig, chain
from apps.notifications.services import notify
from apps.transactions import evm
from apps.transactions.models import ChainTransaction
from engipay.api.errors import ChainUnavailable, InvalidInput

from .events import event_record, notification_data
from .transfers import refresh_from_observation

logger = logging.getLogger(__name__)
Status = ChainTransaction.Status

_NOTICES = {
    Status.CONFIRMED: ("transaction_confirmed", "Transaction confirmed", "Your {asset} transfer has been confirmed."),
    Status.FINALIZED: ("transaction_finalized", "Transaction finalized", "Your {asset} transfer is final."),
    Status.FAILED: ("transaction_failed", "Transaction failed", "Your {asset} transfer failed: {reason}"),
    Status.DROPPED: (
        "transaction_dropped",
        "Transaction dropped",
        "Your {asset} transfer was replaced by another transaction with the same nonce.",
    ),
    Status.PENDING: (
        "transaction_reorged",
        "Transaction back to pending",
        "The block holding your {asset} transfer was replaced; it is pending again.",
    ),
}


def chain_heads(*, config: ChainConfig, client: EvmClient | None = None) -> tuple[int, int]:
    """(head, highest final block) of a chain: the node's `finalized` tag, or a depth where configured/needed."""
    client = client or client_for(config)
    depth = settings.CHAINS.get(config.key, {}).get("finality_depth")
    if depth:
        head = evm.qty(evm.rpc(client, "eth_blockNumber", []))
        return head, head - int(depth) + 1
    try:
        head_hex, final_block = evm.rpc_batch(
            client, [("eth_blockNumber", []), ("eth_getBlockByNumber", ["finalized", False])]
        )
    except evm.NodeError:  # -39001 unknown block: no finality gadget (pre-Merge, some L2s)
        head = evm.qty(evm.rpc(client, "eth_blockNumber", []))
        return head, head - settings.TX_FINALITY_FALLBACK_DEPTH + 1
    return evm.qty(head_hex), evm.qty(final_block["number"]) if final_block else -1


def transactions_refresh_open(
    *, network: str | None = None, head: int | None = None, finalized: int | None = None
) -> int:
    """Refresh every open transaction (of one network, or all), in pk order. Returns how many were looked at.

    A network whose node is down is skipped (logged): the next head or sweep picks its transactions up again.
    """
    open_rows = ChainTransaction.objects.filter(ChainTransaction.open_q())
    if network is not None:
        open_rows = open_rows.filter(network=network)
    by_network: dict[str, list[UUID]] = {}
    # Pending first (they are the ones a user waits on), pk order within each; each row is locked alone.
    pending_first = Case(When(status=Status.PENDING, then=Value(0)), default=Value(1))
    for pk, key in open_rows.order_by(pending_first, "pk").values_list("pk", "network"):
        by_network.setdefault(key, []).append(pk)
    seen = 0
    for key, ids in by_network.items():
        try:
            config = chain(key)
            tip, final = (head, finalized) if network is not None else (None, None)
            if config.kind == "evm" and (tip is None or final is None):
                tip, final = chain_heads(config=config, client=client_for(config))
            for transaction_id in ids:
                transaction_refresh_from_chain(transaction_id=transaction_id, head=tip, finalized=final)
                seen += 1
        except ChainUnavailable:
            logger.warning("Skipping %d open transaction(s) on %s: node unavailable", len(ids), key)
        except InvalidInput:
            logger.warning("Skipping %d open transaction(s) on %s: the network is not configured", len(ids), key)
    return seen


@transaction.atomic
def transaction_refresh_from_chain(
    *, transaction_id: UUID | str, head: int | None = None, finalized: int | None = None
) -> ChainTransaction:
    """Bring one transaction up to date with the chain; a no-op once it is final.

    ``head``/``finalized`` may be given by a caller that already read them for this block (the tracker).
    """
    record = ChainTransaction.objects.select_for_update().select_related("asset", "user").get(pk=transaction_id)
    if not record.is_open or not record.tx_hash:
        return record
    config = chain(record.network)
    before = record.status
    if config.kind != "evm":
        note = refresh_from_observation(record, config)
    else:
        client = client_for(config)
        if head is None or finalized is None:
            head, finalized = chain_heads(config=config, client=client)
        receipt = evm.rpc(client, "eth_getTransactionReceipt", [record.tx_hash])
        if receipt is None:
            note = _not_in_a_block(record, client)
        else:
            note = _in_a_block(record, client, config, receipt, head, finalized)
    record.last_checked_at = timezone.now()
    record.save()
    if record.status != before or note:
        event_record(transaction=record, from_status=before, note=note)
    for status in _transitions(before, record.status):
        _notify(record, status)
    return record


def _in_a_block(
    record: ChainTransaction, client: EvmClient, config: ChainConfig, receipt: dict, head: int, finalized: int
) -> str:
    number, block_hash = evm.qty(receipt["blockNumber"]), receipt["blockHash"]
    note = ""
    if record.block_hash != block_hash:
        if record.block_hash:
            note = f"reorg: moved from block {record.block_number} ({record.block_hash}) to {number}"
        else:
            note = f"in block {number}"
        block = evm.rpc(client, "eth_getBlockByHash", [block_hash, False])
        record.block_number, record.block_hash = number, block_hash
        record.block_timestamp = datetime.fromtimestamp(evm.qty(block["timestamp"]), tz=UTC) if block else None
    record.gas_used = Decimal(evm.qty(receipt["gasUsed"]))
    price = receipt.get("effectiveGasPrice")
    record.effective_gas_price = None if price is None else Decimal(evm.qty(price))
    record.confirmations = max(1, head - number + 1)
    if record.confirmations < config.confirmations:
        record.status = Status.PENDING
    elif evm.qty(receipt["status"]) == 0:
        if record.status != Status.FAILED or not record.revert_reason:
            record.revert_reason = _why_reverted(record, client, number)
        record.status = Status.FAILED
        if number <= finalized:
            record.finalized_at = record.finalized_at or timezone.now()  # failed for good
    elif number <= finalized:
        record.status = Status.FINALIZED
        record.finalized_at = record.finalized_at or timezone.now()
        record.confirmed_at = record.confirmed_at or record.finalized_at
    else:
        record.status = Status.CONFIRMED
        record.confirmed_at = record.confirmed_at or timezone.now()
    return note


def _not_in_a_block(record: ChainTransaction, client: EvmClient) -> str:
    note = ""
    if record.block_hash:
        note = f"reorg: block {record.block_number} ({record.block_hash}) is no longer canonical"
        record.block_number, record.block_hash, record.block_timestamp = None, "", None
        record.confirmations, record.gas_used, record.effective_gas_price = 0, None, None
        record.confirmed_at = None
        record.status = Status.PENDING
    if evm.rpc(client, "eth_getTransactionByHash", [record.tx_hash]) is not None:
        return note
    used = evm.qty(evm.rpc(client, "eth_getTransactionCount", [record.from_address, "latest"]))
    if record.nonce is not None and used > record.nonce:
        # Mined between our two reads? Then it is ours that used the nonce, not a replacement.
        if evm.rpc(client, "eth_getTransactionReceipt", [record.tx_hash]) is None:
            record.status = Status.DROPPED
            return (note + "; " if note else "") + f"dropped: nonce {record.nonce} used by another transaction"
        return note
    if record.raw_transaction:
        # The node lost it (a reorg put it back, or a restart emptied the mempool): we hold the signed bytes.
        try:
            evm.rpc(client, "eth_sendRawTransaction", [record.raw_transaction])
        except evm.NodeError as exc:
            logger.info("Re-sending %s failed: %s", record.tx_hash, exc.message)
        else:
            return (note + "; " if note else "") + "re-sent to the node"
    return note


def _why_reverted(record: ChainTransaction, client: EvmClient, number: int) -> str:
    """Replay the call on the state before its block; the node's revert data says why."""
    sent = evm.rpc(client, "eth_getTransactionByHash", [record.tx_hash])
    if sent is None:
        return "execution reverted"
    if record.gas_used is not None and record.gas_used == Decimal(evm.qty(sent["gas"])):
        return "out of gas"
    call: dict[str, Any] = {
        "from": record.from_address,
        "to": sent.get("to"),
        "value": sent["value"],
        "data": sent["input"],
        "gas": sent["gas"],
    }
    try:
        evm.rpc(client, "eth_call", [call, hex(max(number - 1, 0))])
    except evm.NodeError as exc:
        data = evm.revert_data(exc)
        return evm.revert_reason(data) if data else exc.message
    return "execution reverted (the reason could not be reproduced)"


def _transitions(before: str, after: str) -> Iterable[str]:
    """The statuses to announce, in order (a jump from pending to finalized announces both)."""
    if before == after:
        return []
    if after == Status.FINALIZED and before == Status.PENDING:
        return [Status.CONFIRMED, Status.FINALIZED]
    if after == Status.PENDING:
        return [Status.PENDING] if before == Status.CONFIRMED else []
    return [after]


def _notify(record: ChainTransaction, status: str) -> None:
    kind, title, message = _NOTICES[status]
    data = notification_data(record)
    data["status"] = str(status) if status != Status.PENDING else record.status
    notify(
        user=record.user,
        kind=kind,
        title=title,
        message=message.format(asset=record.asset.symbol, reason=record.revert_reason or "reverted"),
        data=data,
    )
