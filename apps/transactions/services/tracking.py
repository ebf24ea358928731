"""Step 4 of DESIGN.md section 1: follow a transaction to finality from what the chain says (section 2).

Called by the head follower (`chain_tracker`) on every new head and by the beat safety net; both are
idempotent: the row is locked, the chain client observes the transaction, and only a change of status writes an
event and notifies. Chain details (receipts, finality, reorgs, drops) are the client's ``observe``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from apps.chains.clients import client_for
from apps.chains.clients.base import Observation, Submission, TxStatus
from apps.chains.registry import chain
from apps.kyc.services.limits import limit_release
from apps.notifications.services import notify
from apps.transactions.models import ChainTransaction
from engipay.api.errors import ApplicationError, ChainUnavailable

from .assets import limit_reference
from .events import event_record, notification_data, noun

logger = logging.getLogger(__name__)
Status = ChainTransaction.Status

_NOTICES = {
    Status.CONFIRMED: ("transaction_confirmed", "Transaction confirmed", "Your {asset} {noun} has been confirmed."),
    Status.FINALIZED: ("transaction_finalized", "Transaction finalized", "Your {asset} {noun} is final."),
    Status.FAILED: ("transaction_failed", "Transaction failed", "Your {asset} {noun} failed: {reason}"),
    Status.DROPPED: (
        "transaction_dropped",
        "Transaction dropped",
        "Your {asset} {noun} was dropped: the network will not execute it (replaced, or refused on re-sending).",
    ),
    Status.PENDING: (
        "transaction_reorged",
        "Transaction back to pending",
        "The block holding your {asset} {noun} was replaced; it is pending again.",
    ),
}


def transactions_refresh_open(*, network: str | None = None) -> int:
    """Refresh every open transaction (of one network, or all), pending first, pk order within each. Returns how
    many were looked at. A network whose node is down is skipped (logged): the next head or sweep picks its
    transactions up again; one row that fails does not hold up the others."""
    open_rows = ChainTransaction.objects.filter(ChainTransaction.open_q())
    if network is not None:
        open_rows = open_rows.filter(network=network)
    by_network: dict[str, list[UUID]] = {}
    pending_first = Case(When(status=Status.PENDING, then=Value(0)), default=Value(1))
    for pk, key in open_rows.order_by(pending_first, "pk").values_list("pk", "network"):
        by_network.setdefault(key, []).append(pk)
    seen = 0
    for key, ids in by_network.items():
        try:
            context = client_for(chain(key)).sweep_context()  # e.g. EVM head and finalized block, read once
        except ChainUnavailable:
            logger.warning("Skipping %d open transaction(s) on %s: node unavailable", len(ids), key)
            continue
        except ApplicationError:
            logger.warning("Skipping %d open transaction(s) on %s: the network is not configured", len(ids), key)
            continue
        for transaction_id in ids:
            try:
                transaction_refresh_from_chain(transaction_id=transaction_id, context=context)
            except ChainUnavailable:
                logger.warning("Stopping the sweep of %s: node unavailable", key)
                break
            except Exception:
                logger.exception("Refreshing transaction %s on %s failed", transaction_id, key)
            seen += 1
    return seen


@transaction.atomic
def transaction_refresh_from_chain(*, transaction_id: UUID | str, context: Any = None) -> ChainTransaction:
    """Bring one transaction up to date with the chain; a no-op once it is final. ``context``: the client's
    ``sweep_context()`` when the caller read it already for this sweep."""
    record = ChainTransaction.objects.select_for_update().select_related("asset", "user").get(pk=transaction_id)
    if not record.is_open or not record.tx_hash:
        return record
    client = client_for(chain(record.network))
    submission = _submission_of(record)
    before = record.status
    seen = client.observe(submission, previous=_observation_of(record), context=context)
    note = _apply(record, seen)
    if not seen.found and seen.status == Status.PENDING and record.raw_transaction:
        # The network lost it (a reorg put it back, a restart emptied the mempool): we hold the signed payload.
        try:
            client.send(submission)
        except ChainUnavailable:
            raise
        except ApplicationError as exc:
            # The network refuses it now (validation, balance, nonce): it will never be included.
            logger.info("Re-sending %s was refused: %s", record.tx_hash, exc.message)
            record.status = Status.DROPPED
            record.finalized_at = record.finalized_at or timezone.now()
            note = (note + "; " if note else "") + f"dropped: the network refuses it ({exc.message})"[:200]
        else:
            note = (note + "; " if note else "") + "re-sent to the node"
    record.last_checked_at = timezone.now()
    record.save()
    if record.status != before or note:
        event_record(transaction=record, from_status=before, note=note)
    for status in _transitions(before, record.status):
        _notify(record, status)
    if record.status in (Status.FAILED, Status.DROPPED) and before != record.status:
        # Nothing moved: the transfer stops counting against the user's KYC limits.
        limit_release(reference=limit_reference(record.network, record.tx_hash))
    return record


def _submission_of(record: ChainTransaction) -> Submission:
    return Submission(
        tx_hash=record.tx_hash,
        sender=record.from_address,
        recipient=record.to_address,
        contract=record.contract_address or None,
        amount_base=int(record.amount_base),
        nonce=record.nonce,
        raw=record.raw_transaction,
    )


def _observation_of(record: ChainTransaction) -> Observation:
    return Observation(
        status=record.status,
        block_number=record.block_number,
        block_hash=record.block_hash or None,
        block_timestamp=int(record.block_timestamp.timestamp()) if record.block_timestamp else None,
        confirmations=record.confirmations,
        revert_reason=record.revert_reason,
    )


def _apply(record: ChainTransaction, seen: Observation) -> str:
    """Write an observation onto the row (the caller saves); returns the note for the status history."""
    notes = []
    if seen.block_hash and seen.block_hash != (record.block_hash or None):
        if record.block_hash:
            notes.append(f"reorg: moved from block {record.block_number} ({record.block_hash}) to {seen.block_number}")
        else:
            notes.append(f"in block {seen.block_number}")
        record.block_number, record.block_hash = seen.block_number, seen.block_hash
        record.block_timestamp = (
            datetime.fromtimestamp(seen.block_timestamp, tz=UTC) if seen.block_timestamp is not None else None
        )
    elif not seen.block_hash and record.block_hash:
        notes.append(f"reorg: block {record.block_number} ({record.block_hash}) is no longer canonical")
        record.block_number, record.block_hash, record.block_timestamp = None, "", None
        record.gas_used = record.effective_gas_price = record.fee_paid = None
    if seen.note and seen.status != record.status and seen.status == TxStatus.DROPPED:
        notes.append(seen.note)
    record.confirmations = seen.confirmations
    if seen.fee_paid_base is not None:
        record.fee_paid = Decimal(seen.fee_paid_base)
    if "gas_used" in seen.fee_terms:
        record.gas_used = Decimal(seen.fee_terms["gas_used"])
    if "effective_gas_price" in seen.fee_terms:
        record.effective_gas_price = Decimal(seen.fee_terms["effective_gas_price"])
    now = timezone.now()
    if seen.status == Status.FAILED:
        record.revert_reason = seen.revert_reason or record.revert_reason or "reverted"
    if seen.status in (Status.CONFIRMED, Status.FINALIZED):
        record.confirmed_at = record.confirmed_at or now
    elif seen.status == Status.PENDING:
        record.confirmed_at = None
    if seen.final:
        record.finalized_at = record.finalized_at or now
    record.status = seen.status
    return "; ".join(notes)


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
        message=message.format(asset=record.asset.symbol, noun=noun(record), reason=record.revert_reason or "reverted"),
        data=data,
    )
