"""Undoing the index above a block (a reorg, a redeploy): its events and block hashes forgotten, the escrows they
touched recomputed from the events that remain, their actions submitted again, their parties told."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.escrow.models import DisputeDecision, Escrow, EscrowAction, EscrowDeployment, EscrowEvent, IndexedBlock

from .base import ACTION_OF, CREATED_FIELDS, PROJECTION_FIELDS, ActionStatus, Name, _tokens, logger
from .notices import _notify_reorged
from .projection import _bulk_set, _project, _projection_reset

# --- rewind -----------------------------------------------------------------------------------------------------


def escrow_index_rewind(*, deployment: EscrowDeployment, block: int) -> None:
    """Forget what was indexed above ``block`` (below the deployment block: everything, a new contract) and
    recompute the escrows it touched from their remaining events; the next run reads on from ``block + 1``.
    The caller holds the deployment row lock, inside a transaction."""
    everything = block < deployment.deployed_block
    events = EscrowEvent.objects.filter(deployment=deployment)
    blocks = IndexedBlock.objects.filter(deployment=deployment)
    if not everything:
        events, blocks = events.filter(block_number__gt=block), blocks.filter(number__gt=block)
    dropped = list(
        events.order_by("block_number", "log_index").values_list("escrow_id", "name", "tx_hash", "block_timestamp")
    )
    events.delete()
    blocks.delete()
    kept = None if everything else IndexedBlock.objects.filter(deployment=deployment, number=block).first()
    deployment.indexed_block = block
    deployment.indexed_block_hash = kept.hash if kept is not None else ""
    deployment.save(update_fields=["indexed_block", "indexed_block_hash", "updated_at"])
    if dropped:
        _escrows_recompute(deployment, dropped)
        logger.warning(
            "Escrow index of %s rewound to block %s: %d event(s) dropped", deployment.network, block, len(dropped)
        )


def _escrows_recompute(deployment: EscrowDeployment, dropped: list[tuple[Any, str, str, datetime | None]]) -> None:
    ids = sorted({escrow_id for escrow_id, *_ in dropped})
    escrows = list(Escrow.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    remaining: dict[Any, list[EscrowEvent]] = defaultdict(list)
    for event in EscrowEvent.objects.filter(escrow_id__in=ids).order_by("block_number", "log_index"):
        remaining[event.escrow_id].append(event)
    tokens, now = _tokens(deployment.network), timezone.now()
    # A decision on file keeps even a chain-found row (decisions are an audit trail).
    decided = set(DisputeDecision.objects.filter(escrow_id__in=ids).values_list("escrow_id", flat=True))
    kept, gone = [], []
    for escrow in escrows:
        _projection_reset(escrow)
        for event in remaining[escrow.pk]:
            _project(escrow, event, tokens)
        escrow.updated_at = now
        if remaining[escrow.pk]:
            kept.append(escrow)
        elif escrow.source == Escrow.Source.CHAIN and escrow.pk not in decided:
            gone.append(escrow)
        else:
            escrow.expiry_notified_at = None
            kept.append(escrow)
    _bulk_set(Escrow, kept, [*PROJECTION_FIELDS, *CREATED_FIELDS, "expiry_notified_at"])
    _actions_reopen([e.pk for e in kept], dropped)
    resolutions = [tx_hash for _, name, tx_hash, _ in dropped if name == Name.RESOLVED]
    if resolutions:
        DisputeDecision.objects.filter(escrow_id__in=ids, tx_hash__in=resolutions).update(tx_hash="")
    fresh_after = now - timedelta(seconds=settings.ESCROW_NOTIFY_MAX_AGE_SECONDS)
    recent = {escrow_id for escrow_id, _, _, when in dropped if when is None or when >= fresh_after}
    _notify_reorged(
        deployment.network, [e for e in kept + gone if e.pk in recent], removed={e.pk for e in gone}, tokens=tokens
    )
    if gone:
        Escrow.objects.filter(pk__in=[e.pk for e in gone]).delete()


def _actions_reopen(escrow_ids: list[Any], dropped: list[tuple[Any, str, str, datetime | None]]) -> None:
    """For each escrow without an open action: the done action of its earliest dropped event is submitted again
    (its transaction may well be mined again on the new chain)."""
    busy = set(
        EscrowAction.objects.filter(escrow_id__in=escrow_ids, status__in=EscrowAction.OPEN_STATUSES).values_list(
            "escrow_id", flat=True
        )
    )
    first_dropped: dict[Any, tuple[str, str]] = {}
    wanted = set(escrow_ids) - busy
    for escrow_id, name, tx_hash, _ in dropped:
        if escrow_id in wanted:
            first_dropped.setdefault(escrow_id, (ACTION_OF[name], tx_hash))
    done = EscrowAction.objects.select_for_update().filter(escrow_id__in=list(first_dropped), status=ActionStatus.DONE)
    chosen: dict[Any, EscrowAction] = {}
    for action in done.order_by("created_at", "id"):
        kind, tx_hash = first_dropped[action.escrow_id]
        if action.kind != kind:
            continue
        current = chosen.get(action.escrow_id)
        if current is None or tx_hash not in current.tx_hashes:  # the one holding the hash, else the latest
            chosen[action.escrow_id] = action
    now = timezone.now()
    until = now + timedelta(seconds=settings.ESCROW_ACTION_TTL_SECONDS)  # a fresh deadline: see open_action
    for action in chosen.values():
        action.status, action.updated_at, action.prepared_until = ActionStatus.SUBMITTED, now, until
    _bulk_set(EscrowAction, list(chosen.values()), ["status", "updated_at", "prepared_until"])
