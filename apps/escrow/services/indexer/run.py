"""The run: ``escrow_index`` and its callers (beat, the chain tracker's head hook), one locked and committed batch
at a time: the reorg check and fork point, the logs read and decoded, the block hashes remembered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.chains.clients import EvmClient, client_for
from apps.chains.clients import evm_rpc as rpc
from apps.chains.registry import chain
from apps.escrow.chain import PAYMENT_DEFERRED, decode_log, deferred_decode, event_specs
from apps.escrow.models import EscrowDeployment, IndexedBlock
from engipay.api.errors import ChainUnavailable, InvalidInput

from .base import IndexResult, _Event, logger
from .projection import _apply
from .rewind import escrow_index_rewind

_RPC_CHUNK = 100  # block headers per JSON-RPC batch
_MAX_REWINDS_PER_RUN = 3


@dataclass
class _Step:
    events: int = 0
    blocks: tuple[int, int] | None = None  # the blocks indexed (first, last)
    rewound_to: int | None = None
    finished: bool = False


# --- the run --------------------------------------------------------------------------------------------------


def escrow_index(*, network: str, max_blocks: int | None = None) -> IndexResult:
    """Index the contract's events on ``network`` from the last indexed block to the head (at most
    ``max_blocks`` blocks), one committed batch of ``ESCROW_INDEX_BATCH_BLOCKS`` at a time. Returns at once with
    ``busy`` when another run holds the deployment. ChainUnavailable when the node does not answer."""
    config = chain(network)
    if not EscrowDeployment.objects.filter(network=config.key).exists():
        raise InvalidInput("escrow_not_deployed", f"No escrow contract is deployed on {config.name}.")
    client = client_for(config)
    head = rpc.qty(rpc.rpc(client, "eth_blockNumber", []))
    first: int | None = None
    last: int | None = None
    events, rewound_to, rewinds, budget = 0, None, 0, max_blocks
    while True:
        with transaction.atomic():
            deployment = EscrowDeployment.objects.select_for_update(skip_locked=True).filter(network=config.key).first()
            if deployment is None:
                return _result(first, last, events, rewound_to, busy=True)
            first = deployment.indexed_block + 1 if first is None else first
            step = _index_step(deployment, client, head=head, budget=budget)
        events += step.events
        if step.rewound_to is not None:
            rewound_to = step.rewound_to if rewound_to is None else min(rewound_to, step.rewound_to)
            first, last = min(first, step.rewound_to + 1), None
            rewinds += 1
            if rewinds >= _MAX_REWINDS_PER_RUN:  # the chain keeps changing under us: the next run goes on
                break
            continue
        if step.blocks is not None:
            last = step.blocks[1]
            budget = None if budget is None else budget - (step.blocks[1] - step.blocks[0] + 1)
        if step.finished or budget == 0:
            break
    return _result(first, last, events, rewound_to, busy=False)


def _result(first: int | None, last: int | None, events: int, rewound_to: int | None, *, busy: bool) -> IndexResult:
    first = first if first is not None else 0
    return IndexResult(first, last if last is not None else first - 1, events, rewound_to, busy)


def escrow_index_all() -> list[IndexResult]:
    """Every deployment (the beat safety net behind the head hook); a chain whose node is down is skipped."""
    results = []
    for network in EscrowDeployment.objects.order_by("network").values_list("network", flat=True):
        try:
            results.append(escrow_index(network=network))
        except ChainUnavailable:
            logger.warning("Escrow indexing on %s skipped: node unavailable", network)
    return results


def escrow_index_on_head(network: str) -> None:
    """The chain tracker's head hook: index ``network`` if it has an escrow deployment."""
    if not EscrowDeployment.objects.filter(network=network).exists():
        return
    try:
        escrow_index(network=network)
    except ChainUnavailable:
        logger.warning("Escrow indexing on %s skipped: node unavailable", network)


def _block(number: int) -> tuple[str, list[Any]]:
    return ("eth_getBlockByNumber", [hex(number), False])


def _index_step(deployment: EscrowDeployment, client: EvmClient, *, head: int, budget: int | None) -> _Step:
    """One batch: check the last indexed block is still on the chain, read the next blocks' logs, store and
    project them. The caller holds the deployment row lock, in the transaction the batch commits with."""
    start = deployment.indexed_block + 1
    end = min(deployment.indexed_block + settings.ESCROW_INDEX_BATCH_BLOCKS, head)
    if budget is not None:
        end = min(end, deployment.indexed_block + budget)
    calls = [_block(deployment.indexed_block)] if deployment.indexed_block_hash else []
    if end >= start:
        calls.append(_block(end))
    found = rpc.rpc_batch(client, calls) if calls else []
    if deployment.indexed_block_hash:
        rewound = _reorg_undo(deployment, client, base=found.pop(0))
        if rewound is not None:
            return rewound
    if end < start or found[0] is None:  # nothing new (or the head moved back: the next run sees the reorg)
        deployment.indexed_at = timezone.now()
        deployment.save(update_fields=["indexed_at", "updated_at"])
        return _Step(finished=True)
    end_block = found[0]
    query = {
        "fromBlock": hex(start),
        "toBlock": hex(end),
        "address": deployment.address,
        "topics": [[*event_specs(), PAYMENT_DEFERRED]],
    }
    logs = rpc.rpc(client, "eth_getLogs", [query])
    again = rpc.rpc(client, *_block(end))
    if again is None or again["hash"] != end_block["hash"]:
        logger.info("Block %s on %s changed while its logs were read; the next run handles it", end, deployment.network)
        return _Step(finished=True)
    events = _events_of(client, logs, end_block)
    count = _apply(deployment, events)
    _blocks_record(deployment, events, start=start, end=end, end_hash=end_block["hash"], head=head)
    deployment.indexed_block, deployment.indexed_block_hash = end, end_block["hash"]
    deployment.head_timestamp = datetime.fromtimestamp(rpc.qty(end_block["timestamp"]), tz=UTC)
    deployment.indexed_at = timezone.now()
    deployment.save(update_fields=["indexed_block", "indexed_block_hash", "head_timestamp", "indexed_at", "updated_at"])
    return _Step(events=count, blocks=(start, end), finished=end >= head)


def _reorg_undo(deployment: EscrowDeployment, client: EvmClient, *, base: dict[str, Any] | None) -> _Step | None:
    """None while the chain still has the last indexed block (``base``); else rewind to the fork point."""
    if base is not None and base["hash"].lower() == deployment.indexed_block_hash.lower():
        return None
    fork = _fork_point(deployment, client)
    logger.warning(
        "Reorg on %s: block %s is no longer %s; rewinding to %s",
        deployment.network,
        deployment.indexed_block,
        deployment.indexed_block_hash,
        fork,
    )
    escrow_index_rewind(deployment=deployment, block=fork)
    return _Step(rewound_to=fork)


def _fork_point(deployment: EscrowDeployment, client: EvmClient) -> int:
    """The newest stored block the chain still has (compared newest first, batched); none: before the
    deployment, so everything is read again."""
    stored = list(
        IndexedBlock.objects.filter(
            deployment=deployment, number__lte=deployment.indexed_block, number__gte=deployment.deployed_block
        )
        .order_by("-number")
        .values_list("number", "hash")
    )
    for offset in range(0, len(stored), _RPC_CHUNK):
        chunk = stored[offset : offset + _RPC_CHUNK]
        blocks = rpc.rpc_batch(client, [_block(number) for number, _ in chunk])
        for (number, known), block in zip(chunk, blocks, strict=True):
            if block is not None and block["hash"].lower() == known.lower():
                return number
    return max(deployment.deployed_block - 1, 0)


def _events_of(client: EvmClient, logs: list[dict[str, Any]], end_block: dict[str, Any]) -> list[_Event]:
    """Decoded events in chain order, each with its block's time (from the log where the node gives it)."""
    times: dict[int, int] = {rpc.qty(end_block["number"]): rpc.qty(end_block["timestamp"])}
    events: list[_Event] = []
    last_in_tx: dict[str, _Event] = {}
    for log in logs:
        if log.get("removed"):
            continue
        payout = deferred_decode(log["topics"], log["data"])
        if payout is not None:
            # Emitted by the payout of the transition logged just before it in the same transaction (a smart
            # wallet may batch several escrows' transitions in one transaction).
            owner = last_in_tx.get(log["transactionHash"])
            if owner is not None:
                owner.args.setdefault("deferred", []).append(payout)
            continue
        decoded = decode_log(log["topics"], log["data"])
        if decoded is None:
            continue
        number = rpc.qty(log["blockNumber"])
        if log.get("blockTimestamp") is not None:
            times[number] = rpc.qty(log["blockTimestamp"])
        events.append(
            _Event(
                name=decoded.name,
                onchain_id=decoded.onchain_id,
                args={
                    key: str(value) if isinstance(value, int) and not isinstance(value, bool) else value
                    for key, value in decoded.args.items()
                },
                block_number=number,
                block_hash=log["blockHash"],
                block_time=None,
                tx_hash=log["transactionHash"],
                log_index=rpc.qty(log["logIndex"]),
            )
        )
        last_in_tx[log["transactionHash"]] = events[-1]
    missing = sorted({e.block_number for e in events} - set(times))
    for offset in range(0, len(missing), _RPC_CHUNK):
        chunk = missing[offset : offset + _RPC_CHUNK]
        for number, block in zip(chunk, rpc.rpc_batch(client, [_block(n) for n in chunk]), strict=True):
            if block is not None:
                times[number] = rpc.qty(block["timestamp"])
    events.sort(key=lambda e: (e.block_number, e.log_index))
    for event in events:
        if event.block_number in times:
            event.block_time = datetime.fromtimestamp(times[event.block_number], tz=UTC)
    return events


def _blocks_record(
    deployment: EscrowDeployment, events: list[_Event], *, start: int, end: int, end_hash: str, head: int
) -> None:
    """Remember the batch end and every block with events (a later mismatch reveals a reorg); forget hashes
    ESCROW_INDEX_KEEP_BLOCKS below the head (final by then), but never the last indexed block's."""
    hashes = {e.block_number: e.block_hash for e in events}
    hashes[end] = end_hash
    IndexedBlock.objects.filter(deployment=deployment, number__gte=start, number__lte=end).delete()
    IndexedBlock.objects.bulk_create(
        [IndexedBlock(deployment=deployment, number=number, hash=value) for number, value in sorted(hashes.items())]
    )
    IndexedBlock.objects.filter(
        deployment=deployment, number__lt=min(head - settings.ESCROW_INDEX_KEEP_BLOCKS, end)
    ).delete()
