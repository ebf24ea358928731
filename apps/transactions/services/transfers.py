"""Prepare, broadcast, track and refresh on the networks whose client implements ``TransferClient`` (Starknet,
Bitcoin): the same steps as the EVM path, with every chain detail behind the client."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.chains.clients import client_for
from apps.chains.clients.base import AssetRef, Observation, Submission, TransferClient, TransferIntent, TxStatus
from apps.chains.registry import ChainConfig
from apps.chains.units import from_base_units, to_base_units
from apps.notifications.services import notify
from apps.transactions.models import ChainTransaction
from engipay.api.errors import InvalidInput, StateConflict

from .assets import AssetOnChain, asset_by_contract, asset_on_chain, native_asset, sender_for, usd_price, wallets_of
from .events import event_record, notification_data

logger = logging.getLogger(__name__)
Status = ChainTransaction.Status


def _client(config: ChainConfig) -> TransferClient:
    return client_for(config)  # type: ignore[return-value]


def _ref(asset: AssetOnChain) -> AssetRef:
    return AssetRef(symbol=asset.token.symbol, contract=asset.contract, decimals=asset.decimals)


def transfer_prepare(
    *, user, config: ChainConfig, asset: str, to_address: str, amount: Decimal, from_address: str | None
) -> dict[str, Any]:
    token = asset_on_chain(config=config, symbol=asset)
    amount_base = to_base_units(amount, token.decimals)
    sender = sender_for(user=user, from_address=from_address, chain_kind=config.kind)
    client = _client(config)
    prepared = client.prepare_transfer(
        TransferIntent(sender=sender, recipient=to_address, asset=_ref(token), amount_base=amount_base)
    )
    fee = prepared.fee_asset
    price, source = usd_price(fee.symbol)
    expected = None if prepared.fee_expected_base is None else from_base_units(prepared.fee_expected_base, fee.decimals)
    ceiling = None if prepared.fee_max_base is None else from_base_units(prepared.fee_max_base, fee.decimals)
    return {
        "transaction": prepared.unsigned,
        "fee_estimate": {
            "asset": fee.symbol,
            "expected_fee": expected,
            "max_fee": ceiling,
            "price_usd": price,
            "expected_fee_usd": None if price is None or expected is None else Decimal(expected) * price,
            "max_fee_usd": None if price is None or ceiling is None else Decimal(ceiling) * price,
            "price_source": source,
            "details": prepared.fee_details,
        },
        "network": config.key,
        "asset": token.token.symbol,
        "amount": from_base_units(amount_base, token.decimals),
        "to_address": to_address,
        "status": "awaiting_signature",
    }


def _moved_asset(config: ChainConfig, submission: Submission) -> AssetOnChain | None:
    if submission.contract is None:
        return native_asset(config=config) if config.kind == "bitcoin" else None
    return asset_by_contract(config=config, contract=submission.contract)


def _require_own_wallet(user, config: ChainConfig, address: str) -> None:
    if address not in wallets_of(user, config.kind):
        raise InvalidInput(
            "sender_not_your_wallet",
            "The transaction is sent from an address that is not one of your verified wallets.",
            {"sender": address},
        )


def _require_match(
    config: ChainConfig, submission: Submission, *, asset: str, to_address: str, amount: Decimal
) -> AssetOnChain:
    requested = asset_on_chain(config=config, symbol=asset)
    moved = _moved_asset(config, submission)
    if moved is None or submission.recipient is None or submission.amount_base is None:
        raise InvalidInput("unsupported_transaction", "Only a single token transfer can be sent or tracked here.")
    if moved.token.pk != requested.token.pk:
        raise InvalidInput(
            "asset_mismatch", f"The signed transaction does not transfer {requested.token.symbol}.", {"asset": asset}
        )
    if submission.recipient != to_address:
        raise InvalidInput(
            "recipient_mismatch",
            f"The signed transaction pays {submission.recipient}, not {to_address}.",
            {"signed_recipient": submission.recipient, "to_address": to_address},
        )
    wanted = to_base_units(amount, requested.decimals)
    if submission.amount_base != wanted:
        raise InvalidInput(
            "amount_mismatch",
            f"The signed transaction moves {from_base_units(submission.amount_base, requested.decimals)}, "
            f"not {from_base_units(wanted, requested.decimals)}.",
            {"signed_amount": from_base_units(submission.amount_base, requested.decimals)},
        )
    return requested


def transfer_broadcast(
    *, user, config: ChainConfig, signed_transaction: Any, to_address: str, asset: str, amount: Decimal
) -> tuple[ChainTransaction, bool]:
    client = _client(config)
    submission = client.decode_signed(signed_transaction)
    _require_own_wallet(user, config, submission.sender)
    token = _require_match(config, submission, asset=asset, to_address=to_address, amount=amount)
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=submission.tx_hash).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise StateConflict("transaction_recorded_elsewhere", "This transaction is recorded for another account.")
        return existing, False
    client.send(submission)
    return _record(user=user, config=config, submission=submission, asset=token)


def transfer_track_hash(
    *,
    user,
    config: ChainConfig,
    tx_hash: str,
    to_address: str | None = None,
    asset: str | None = None,
    amount: Decimal | None = None,
) -> tuple[ChainTransaction, bool]:
    given = [value is not None for value in (to_address, asset, amount)]
    if any(given) and not all(given):
        raise InvalidInput(
            "incomplete_transfer", "Give asset, to_address and amount together (or none of them) with a tx_hash."
        )
    tx_hash = normalize_hash(config, tx_hash)
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=tx_hash).first()
    if existing is not None:
        _require_own_wallet(user, config, existing.from_address)
        return existing, False
    submission = _client(config).lookup(tx_hash)
    if submission is None:
        raise InvalidInput("transaction_not_found", f"{config.name} does not know transaction {tx_hash}.")
    _require_own_wallet(user, config, submission.sender)
    if asset is not None:
        token = _require_match(config, submission, asset=asset, to_address=to_address, amount=amount)
    else:
        token = _moved_asset(config, submission)
        if token is None or submission.recipient is None or submission.amount_base is None:
            raise InvalidInput("unsupported_transaction", "Only a single token transfer can be tracked.")
    return _record(user=user, config=config, submission=submission, asset=token)


def normalize_hash(config: ChainConfig, tx_hash: str) -> str:
    """One spelling per hash: Starknet felts 0x-padded to 64 digits, Bitcoin txids bare, lower case."""
    value = tx_hash.strip().lower()
    if config.kind == "starknet":
        return f"0x{int(value, 16):064x}"
    if config.kind == "bitcoin":
        return value.removeprefix("0x")
    return value


def _record(*, user, config: ChainConfig, submission: Submission, asset: AssetOnChain) -> tuple[ChainTransaction, bool]:
    fee = _client(config).fee_asset()
    try:
        with transaction.atomic():
            record = ChainTransaction.objects.create(
                user=user,
                network=config.key,
                tx_hash=submission.tx_hash,
                status=Status.PENDING,
                from_address=submission.sender,
                to_address=submission.recipient,
                contract_address=asset.contract or "",
                asset=asset.token,
                decimals=asset.decimals,
                amount_base=Decimal(submission.amount_base),
                nonce=submission.nonce,
                fee_asset=fee.symbol,
                fee_decimals=fee.decimals,
                raw_transaction=submission.raw,
                submitted_at=timezone.now(),
            )
            event_record(transaction=record, from_status="", note="submitted")
            notify(
                user=user,
                kind="transaction_pending",
                title="Transaction submitted",
                message=f"Your {record.asset.symbol} transfer was sent to the network.",
                data=notification_data(record),
            )
    except IntegrityError:
        return ChainTransaction.objects.get(network=config.key, tx_hash=submission.tx_hash), False
    return record, True


def submission_of(record: ChainTransaction) -> Submission:
    return Submission(
        tx_hash=record.tx_hash,
        sender=record.from_address,
        recipient=record.to_address,
        contract=record.contract_address or None,
        amount_base=int(record.amount_base),
        nonce=record.nonce,
        raw=record.raw_transaction,
    )


def refresh_from_observation(record: ChainTransaction, config: ChainConfig) -> str:
    """Read where the transaction stands and write it onto ``record`` (the caller saves). Returns a note."""
    client = _client(config)
    submission = submission_of(record)
    seen = client.observe(submission)
    note = seen.note if seen.status != record.status else ""
    if not seen.found and seen.status == TxStatus.PENDING and record.raw_transaction:
        # The network lost it (a restart emptied the mempool, a reorg put it back): we hold the signed payload.
        try:
            client.send(submission)
        except InvalidInput as exc:
            logger.info("Re-sending %s failed: %s", record.tx_hash, exc.message)
        else:
            note = "re-sent to the network"
    _apply(record, seen)
    return note


def _apply(record: ChainTransaction, seen: Observation) -> None:
    if seen.block_hash and seen.block_hash != record.block_hash:
        record.block_number, record.block_hash = seen.block_number, seen.block_hash
        record.block_timestamp = (
            datetime.fromtimestamp(seen.block_timestamp, tz=UTC) if seen.block_timestamp is not None else None
        )
    elif seen.block_number is None and record.block_hash:
        record.block_number, record.block_hash, record.block_timestamp = None, "", None
    record.confirmations = seen.confirmations
    if seen.fee_paid_base is not None:
        record.fee_paid = Decimal(seen.fee_paid_base)
    record.status = seen.status
    now = timezone.now()
    if seen.status == TxStatus.FAILED:
        record.revert_reason = seen.revert_reason or record.revert_reason or "reverted"
    if seen.status in (TxStatus.CONFIRMED, TxStatus.FINALIZED):
        record.confirmed_at = record.confirmed_at or now
    if seen.status == TxStatus.PENDING:
        record.confirmed_at = None
    if seen.final:
        record.finalized_at = record.finalized_at or now
