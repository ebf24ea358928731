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

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from apps.accounts.models import User, Wallet
from apps.chains.clients import EvmClient, client_for
from apps.chains.clients import evm_rpc as rpc
from apps.chains.models import NATIVE_ADDRESS, TokenDeployment
from apps.chains.registry import chain
from apps.chains.units import from_base_units
from apps.escrow.chain import PAYMENT_DEFERRED, decode_log, deferred_decode, event_specs
from apps.escrow.models import DisputeDecision, Escrow, EscrowAction, EscrowDeployment, EscrowEvent, IndexedBlock
from apps.notifications.services import notify
from engipay.api.errors import ChainUnavailable, InvalidInput

logger = logging.getLogger(__name__)

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
_RPC_CHUNK = 100  # block headers per JSON-RPC batch
_UPDATE_CHUNK = 500  # rows per UPDATE statement (its CASE is scanned once per row)
_MAX_REWINDS_PER_RUN = 3


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


# --- projection -------------------------------------------------------------------------------------------------


def _tokens(network: str) -> dict[str, _Token]:
    """The registry's tokens on ``network`` by lower-case address (the zero address: the native coin)."""
    rows = TokenDeployment.objects.filter(chain=network).select_related("token")
    return {row.address.lower(): _Token(row.token_id, row.decimals, row.token.symbol) for row in rows}


def _same(current: Any, value: Any) -> bool:
    if isinstance(value, str):
        return (current or "").lower() == value.lower()
    if isinstance(value, int) and not isinstance(value, bool):
        return current not in (None, "") and int(current) == value
    return current == value


def _apply_created(escrow: Escrow, args: dict[str, Any], tokens: dict[str, _Token]) -> list[str]:
    """What EscrowCreated says, written over the row; the names of the fields that differed."""
    resolver = args["resolver"]
    chain_view = {
        "sender_address": args["sender"],
        "recipient_address": args["recipient"],
        "token_address": args["token"],
        "amount_base": int(args["amount"]),
        "expires_at": datetime.fromtimestamp(int(args["expiresAt"]), tz=UTC),
        "memo_hash": args["memoHash"],
        "require_confirmation": bool(args["requireConfirmation"]),
        "resolver_address": "" if resolver.lower() == NATIVE_ADDRESS else resolver,
    }
    differ = []
    for name, value in chain_view.items():
        if not _same(getattr(escrow, name), value):
            differ.append(name)
        setattr(escrow, name, value)  # also the chain's spelling of an address
    token = tokens.get(escrow.token_address.lower())
    token_id, decimals = (token.id, token.decimals) if token else (None, None)
    if (escrow.token_id, escrow.decimals) != (token_id, decimals):
        escrow.token_id, escrow.decimals = token_id, decimals
        differ += ["token", "decimals"]
    return differ


def _project(escrow: Escrow, event: _Event | EscrowEvent, tokens: dict[str, _Token]) -> list[str]:
    """Apply one event to the row in memory; returns the EscrowCreated fields that changed."""
    args, differ = event.args, []
    if event.name == Name.CREATED:
        differ = _apply_created(escrow, args, tokens)
    elif event.name == Name.ACCEPTED:
        escrow.paid_to_recipient_base = int(args["amount"])
    elif event.name in (Name.REJECTED, Name.CANCELLED):
        escrow.refunded_to_sender_base = int(args["amount"])
    elif event.name == Name.EXPIRED:
        if args["paidTo"].lower() == escrow.recipient_address.lower():
            escrow.paid_to_recipient_base = int(args["amount"])
        else:
            escrow.refunded_to_sender_base = int(args["amount"])
    elif event.name == Name.DISPUTED:
        escrow.disputed_by = args["by"]
    elif event.name == Name.RESOLVED:
        escrow.paid_to_recipient_base = int(args["toRecipient"])
        escrow.refunded_to_sender_base = int(args["toSender"])
    escrow.status = STATUS_AFTER[event.name]
    escrow.block_number, escrow.block_hash = event.block_number, event.block_hash
    return differ


def _projection_reset(escrow: Escrow) -> None:
    escrow.status = Status.AWAITING_SIGNATURE
    escrow.block_number, escrow.block_hash = None, ""
    escrow.paid_to_recipient_base = escrow.refunded_to_sender_base = None
    escrow.disputed_by = ""


class _Batch:
    """One batch's events applied in memory to rows loaded in one query each, then written in bulk."""

    def __init__(self, deployment: EscrowDeployment, events: list[_Event]) -> None:
        self.deployment, self.events = deployment, events
        self.tokens = _tokens(deployment.network)
        self.now = timezone.now()
        ids = sorted({e.onchain_id for e in events})
        rows = Escrow.objects.select_for_update().filter(deployment=deployment, onchain_id__in=ids).order_by("pk")
        self.escrows: dict[str, Escrow] = {row.onchain_id.lower(): row for row in rows}
        actions = EscrowAction.objects.select_for_update().filter(
            escrow_id__in=[e.pk for e in self.escrows.values()], status__in=EscrowAction.OPEN_STATUSES
        )
        self.open_actions = {action.escrow_id: action for action in actions.order_by("pk")}
        self.new: dict[str, Escrow] = {}
        self.updated: dict[str, Escrow] = {}
        self.update_fields = set(PROJECTION_FIELDS)
        self.rows: list[EscrowEvent] = []
        self.closed: list[EscrowAction] = []
        self.resolved: dict[Any, str] = {}
        self.notices: list[tuple[Escrow, _Event, str]] = []

    def run(self) -> int:
        self._new_rows()
        fresh_after = self.now - timedelta(seconds=settings.ESCROW_NOTIFY_MAX_AGE_SECONDS)
        for event in self.events:
            escrow = self.escrows.get(event.onchain_id) or self.new.get(event.onchain_id)
            if escrow is None:
                logger.warning(
                    "%s event of unknown escrow %s on %s ignored", event.name, event.onchain_id, self.deployment.network
                )
                continue
            self._apply_one(escrow, event)
            if event.block_time is None or event.block_time >= fresh_after:
                self.notices.append((escrow, event, escrow.status))
        self._write()
        _notify_transitions(self.deployment.network, self.notices, self.tokens)
        return len(self.rows)

    def _new_rows(self) -> None:
        """Rows for escrows created on chain without the API (source=chain)."""
        created = [e for e in self.events if e.name == Name.CREATED and e.onchain_id not in self.escrows]
        users = _wallet_users({e.args["sender"] for e in created})
        for event in created:
            owners = users.get(event.args["sender"], set())
            self.new[event.onchain_id] = Escrow(
                deployment=self.deployment,
                onchain_id=event.onchain_id,
                source=Escrow.Source.CHAIN,
                sender_id=next(iter(owners)) if len(owners) == 1 else None,
                memo="",
            )

    def _apply_one(self, escrow: Escrow, event: _Event) -> None:
        differ = _project(escrow, event, self.tokens)
        if event.onchain_id in self.escrows:
            self.updated[event.onchain_id] = escrow
            escrow.updated_at = self.now
            if differ:
                self.update_fields.update(differ)
                logger.warning(
                    "Escrow %s: the chain's %s differ from the row's; the chain's are kept",
                    escrow.pk,
                    ", ".join(differ),
                )
        self.rows.append(
            EscrowEvent(
                deployment=self.deployment,
                escrow=escrow,
                name=event.name,
                block_number=event.block_number,
                block_hash=event.block_hash,
                block_timestamp=event.block_time,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                args=event.args,
            )
        )
        action = self.open_actions.pop(escrow.pk, None)
        if action is not None:
            if action.kind == ACTION_OF[event.name]:
                action.status = ActionStatus.DONE
                if event.tx_hash not in action.tx_hashes:
                    action.tx_hashes = [*action.tx_hashes, event.tx_hash]
            else:
                action.status = ActionStatus.SUPERSEDED
            action.updated_at = self.now
            self.closed.append(action)
        if event.name == Name.RESOLVED:
            self.resolved[escrow.pk] = event.tx_hash

    def _write(self) -> None:
        Escrow.objects.bulk_create(list(self.new.values()), batch_size=1000)
        EscrowEvent.objects.bulk_create(self.rows, batch_size=1000)
        _bulk_set(Escrow, list(self.updated.values()), sorted(self.update_fields))
        _bulk_set(EscrowAction, self.closed, ["status", "tx_hashes", "updated_at"])
        if self.resolved:
            _decisions_mark(self.resolved)


def _bulk_set(model: type[models.Model], rows: list[models.Model], fields: list[str]) -> None:
    """``bulk_update`` without Django's expression tree (one Case/When object per value: most of a batch's time
    at a few thousand rows): ``UPDATE … SET col = CASE pk WHEN %s THEN %s … END`` per chunk, each value prepared
    by its own field as Django would."""
    if not rows:
        return
    meta, quote = model._meta, connection.ops.quote_name
    pk, columns = meta.pk, [meta.get_field(name) for name in fields]
    # PostgreSQL types a CASE of bare parameters as text: each value is cast to its column's type.
    cast = connection.features.requires_casted_case_in_updates
    per_row = 2 * len(columns) + 1
    size = min(_UPDATE_CHUNK, (connection.features.max_query_params or per_row * _UPDATE_CHUNK) // per_row)
    for offset in range(0, len(rows), size):
        chunk = rows[offset : offset + size]
        keys = [pk.get_db_prep_value(row.pk, connection) for row in chunk]
        assignments, params = [], []
        for field in columns:
            then = f"CAST(%s AS {field.db_type(connection)})" if cast else "%s"
            for key, row in zip(keys, chunk, strict=True):
                params += [key, field.get_db_prep_save(getattr(row, field.attname), connection)]
            whens = " ".join([f"WHEN %s THEN {then}"] * len(chunk))
            assignments.append(f"{quote(field.column)} = CASE {quote(pk.column)} {whens} END")
        params += keys
        where = f"{quote(pk.column)} IN ({', '.join(['%s'] * len(keys))})"
        # Identifiers come from the model's metadata; every value is a parameter.
        sql = f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {where}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _apply(deployment: EscrowDeployment, events: list[_Event]) -> int:
    """Store and project a batch's events (chain order); returns how many were stored."""
    if not events:
        return 0
    return _Batch(deployment, events).run()


def _decisions_mark(resolved: dict[Any, str]) -> None:
    """Each resolved escrow's latest decision gets the resolution's transaction hash."""
    latest: dict[Any, DisputeDecision] = {}
    for decision in DisputeDecision.objects.filter(escrow_id__in=list(resolved)).order_by("-created_at", "-id"):
        latest.setdefault(decision.escrow_id, decision)
    for escrow_id, decision in latest.items():
        decision.tx_hash = resolved[escrow_id]
    DisputeDecision.objects.bulk_update(list(latest.values()), ["tx_hash"])


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


# --- notifications ----------------------------------------------------------------------------------------------

_TRANSITION_NOTICES = {
    Name.CREATED: ("escrow_created", "Escrow created", "{amount} {asset} are held in escrow on {network}."),
    Name.ACCEPTED: ("escrow_accepted", "Escrow accepted", "The recipient accepted: {amount} {asset} were released."),
    Name.REJECTED: (
        "escrow_rejected",
        "Escrow rejected",
        "The recipient rejected the escrow: {amount} {asset} went back to the sender.",
    ),
    Name.CANCELLED: (
        "escrow_cancelled",
        "Escrow cancelled",
        "The sender cancelled the escrow: {amount} {asset} went back to the sender.",
    ),
    Name.EXPIRED: (
        "escrow_expired",
        "Escrow settled after expiry",
        "The escrow expired: {amount} {asset} were paid to the {party}.",
    ),
    Name.DISPUTED: (
        "escrow_disputed",
        "Escrow disputed",
        "The escrow of {amount} {asset} is disputed: its resolver will decide.",
    ),
    Name.RESOLVED: (
        "escrow_resolved",
        "Dispute resolved",
        "The resolver decided: {to_recipient} {asset} to the recipient, {to_sender} {asset} to the sender.",
    ),
}


def _wallet_users(addresses: Iterable[str]) -> dict[str, set[Any]]:
    """address → the users holding it as a verified EVM wallet (EIP-55 spelling, as wallets are stored)."""
    found: dict[str, set[Any]] = defaultdict(set)
    rows = Wallet.objects.filter(chain_kind="evm", verified_at__isnull=False, address__in=set(addresses))
    for address, user_id in rows.values_list("address", "user_id"):
        found[address].add(user_id)
    return found


def _parties(escrows: list[Escrow]) -> dict[Any, list[User]]:
    """escrow pk → its sender (account or wallet) and the users holding its recipient address, in pk order."""
    holders = _wallet_users({a for e in escrows for a in (e.sender_address, e.recipient_address)})
    wanted: dict[Any, set[Any]] = {}
    for escrow in escrows:
        ids = holders.get(escrow.sender_address, set()) | holders.get(escrow.recipient_address, set())
        if escrow.sender_id is not None:
            ids = ids | {escrow.sender_id}
        wanted[escrow.pk] = ids
    users = User.objects.in_bulk({i for ids in wanted.values() for i in ids})
    return {pk: [users[i] for i in sorted(ids, key=str) if i in users] for pk, ids in wanted.items()}


def _money(escrow: Escrow, base: int | None, tokens: dict[str, _Token]) -> tuple[str, str]:
    """(amount in token units, asset): base units and the token address when the token is not in the registry."""
    token = tokens.get(escrow.token_address.lower())
    asset = token.symbol if token else escrow.token_address
    value = int(base if base is not None else escrow.amount_base)
    return (from_base_units(value, escrow.decimals) if escrow.decimals is not None else str(value)), asset


def _data(escrow: Escrow, network: str, status: str, tokens: dict[str, _Token], **extra: Any) -> dict[str, Any]:
    amount, asset = _money(escrow, None, tokens)
    return {
        "escrow_id": str(escrow.pk),
        "status": status,
        "network": network,
        "amount": amount,
        "amount_base": str(int(escrow.amount_base)),
        "asset": asset,
        "onchain_id": escrow.onchain_id,
        **extra,
    }


def _notify_transitions(network: str, notices: list[tuple[Escrow, _Event, str]], tokens: dict[str, _Token]) -> None:
    if not notices:
        return
    parties = _parties(list({escrow.pk: escrow for escrow, _, _ in notices}.values()))
    for escrow, event, status in notices:
        kind, title, template = _TRANSITION_NOTICES[event.name]
        data = _data(escrow, network, status, tokens, tx_hash=event.tx_hash, block_number=event.block_number)
        words = {"amount": data["amount"], "asset": data["asset"], "network": network}
        if event.name == Name.EXPIRED:
            paid_recipient = event.args["paidTo"].lower() == escrow.recipient_address.lower()
            words["party"] = "recipient" if paid_recipient else "sender"
            data["paid_to"] = event.args["paidTo"]
        if event.name == Name.RESOLVED:
            words["to_recipient"] = _money(escrow, int(event.args["toRecipient"]), tokens)[0]
            words["to_sender"] = _money(escrow, int(event.args["toSender"]), tokens)[0]
            data.update(to_recipient=words["to_recipient"], to_sender=words["to_sender"])
        for user in parties[escrow.pk]:
            notify(user=user, kind=kind, title=title, message=template.format(**words), data=data)


def _notify_reorged(network: str, escrows: list[Escrow], *, removed: set[Any], tokens: dict[str, _Token]) -> None:
    if not escrows:
        return
    parties = _parties(escrows)
    for escrow in escrows:
        if escrow.pk in removed:
            status, message = "removed", "A chain reorganisation dropped this escrow: it is no longer on chain."
        else:
            status = escrow.status
            message = f"A chain reorganisation replaced the block of this escrow's last change: it is {status} again."
        data = _data(escrow, network, status, tokens, block_number=escrow.block_number)
        for user in parties[escrow.pk]:
            notify(
                user=user,
                kind="escrow_reorged",
                title="Escrow changed by a chain reorganisation",
                message=message,
                data=data,
            )


# --- expiry -----------------------------------------------------------------------------------------------------


def escrows_expiry_notify(*, now: datetime | None = None) -> int:
    """Tell both parties of each pending escrow past its expiry (chain time: the later of ``now`` and the indexed
    head's time) that it can be settled now, once (``expiry_notified_at``). Returns how many escrows."""
    now = now or timezone.now()
    return sum(_expiry_notify(deployment, now) for deployment in EscrowDeployment.objects.order_by("network"))


@transaction.atomic
def _expiry_notify(deployment: EscrowDeployment, now: datetime) -> int:
    chain_time = max(now, deployment.head_timestamp) if deployment.head_timestamp else now
    due = list(
        Escrow.objects.select_for_update(skip_locked=True)  # a row a request holds: next round
        .filter(
            deployment=deployment, status=Status.PENDING, expires_at__lte=chain_time, expiry_notified_at__isnull=True
        )
        .order_by("pk")
    )
    if not due:
        return 0
    Escrow.objects.filter(pk__in=[e.pk for e in due]).update(expiry_notified_at=timezone.now())
    tokens, parties = _tokens(deployment.network), _parties(due)
    for escrow in due:
        data = _data(
            escrow,
            deployment.network,
            Status.EXPIRED,
            tokens,
            expires_at=escrow.expires_at.isoformat(),
            refund_url=f"/api/payments/escrow/{escrow.pk}/refund",
        )
        outcome = (
            "the sender can now be refunded"
            if escrow.require_confirmation
            else "the funds can now be released to the recipient"
        )
        message = (
            f"The escrow of {data['amount']} {data['asset']} has expired: {outcome}. "
            f"Either party can settle it (POST /api/payments/escrow/{escrow.pk}/refund)."
        )
        for user in parties[escrow.pk]:
            notify(user=user, kind="escrow_expiry_due", title="Escrow expired", message=message, data=data)
    return len(due)
