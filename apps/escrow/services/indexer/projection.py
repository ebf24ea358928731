"""The projection: a batch's events stored as ``EscrowEvent`` rows and applied to their ``Escrow`` rows (created
on chain without the API: inserted), open ``EscrowAction`` rows closed and dispute decisions marked, all written
in bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from apps.chains.models import NATIVE_ADDRESS
from apps.escrow.models import DisputeDecision, Escrow, EscrowAction, EscrowDeployment, EscrowEvent
from apps.escrow.selectors import wallet_holders

from .base import (
    ACTION_OF,
    PROJECTION_FIELDS,
    STATUS_AFTER,
    ActionStatus,
    Name,
    Status,
    _Event,
    _Token,
    _tokens,
    logger,
)
from .notices import _notify_transitions

_UPDATE_CHUNK = 500  # rows per UPDATE statement (its CASE is scanned once per row)


# --- projection -------------------------------------------------------------------------------------------------


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
        self.resolved: dict[Any, tuple[str, int]] = {}  # escrow pk → (tx hash, amount to the recipient)
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
        users = wallet_holders({e.args["sender"] for e in created})
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
            self.resolved[escrow.pk] = (event.tx_hash, int(event.args["toRecipient"]))

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


def _decisions_mark(resolved: dict[Any, tuple[str, int]]) -> None:
    """The decision the resolution carried out (the latest one with the split the chain paid) gets its
    transaction hash; a resolution decided outside the admin matches none."""
    latest: dict[Any, DisputeDecision] = {}
    for decision in DisputeDecision.objects.filter(escrow_id__in=list(resolved)).order_by("-created_at", "-id"):
        if int(decision.to_recipient_base) == resolved[decision.escrow_id][1]:
            latest.setdefault(decision.escrow_id, decision)
    for escrow_id, decision in latest.items():
        decision.tx_hash = resolved[escrow_id][0]
    DisputeDecision.objects.bulk_update(list(latest.values()), ["tx_hash"])
