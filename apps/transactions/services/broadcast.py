"""Step 3 of DESIGN.md section 1: check what the wallet signed against what the user asked for, then send it
(or record a transaction the wallet sent itself). Idempotent on the transaction hash. Every chain detail is the
chain client's (``decode_signed``, ``send``, ``lookup``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.chains.clients import client_for
from apps.chains.clients.base import Submission
from apps.chains.registry import ChainConfig, chain, native_symbol
from apps.chains.units import from_base_units, to_base_units
from apps.kyc.services.limits import limit_record, limit_reference_move, limit_release
from apps.kyc.services.screening import address_screen
from apps.notifications.services import notify
from apps.transactions.models import ChainTransaction
from engipay.api.errors import ApplicationError, ChainUnavailable, InvalidInput, StateConflict, UpstreamUnavailable

from .assets import (
    AssetOnChain,
    asset_by_contract,
    asset_on_chain,
    limit_reference,
    native_asset,
    usd_value_for_limits,
    wallets_of,
)
from .events import event_record, notification_data, noun

logger = logging.getLogger(__name__)


def transaction_broadcast(
    *, user, network: str, signed_transaction: Any, to_address: str, asset: str, amount: Decimal
) -> tuple[ChainTransaction, bool]:
    """Validate and send a signed transaction. Returns (record, created); the same transaction again → its record."""
    config = chain(network)
    # AML (apps/kyc): a sanctioned recipient → 403 sanctioned_address, before anything is sent.
    address_screen(user=user, address=to_address, chain_kind=config.kind, context="transaction_broadcast")
    client = client_for(config)
    requested = asset_on_chain(config=config, symbol=asset)
    submission = client.decode_signed(signed_transaction)
    _require_own_wallet(user, config, submission.sender)
    address_screen(user=user, address=submission.sender, chain_kind=config.kind, context="transaction_sender")
    _require_match(config, submission, requested=requested, to_address=to_address, amount=amount)
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=submission.tx_hash).first()
    if existing is not None:
        if existing.user_id != user.pk:  # cannot happen while a wallet has one owner; never show another's row
            raise StateConflict("transaction_recorded_elsewhere", "This transaction is recorded for another account.")
        return existing, False
    # KYC (apps/kyc): counted against the user's limits before it is sent (403 kyc_limit_exceeded), released if
    # the network refuses it.
    reference = limit_reference(config.key, submission.tx_hash)
    usd_value = usd_value_for_limits(symbol=requested.token.symbol, amount=Decimal(amount))
    _, counted_now = limit_record(user=user, usd_amount=usd_value, reference=reference, kind="transaction")
    try:
        sent = client.send(submission)
    except ApplicationError as exc:
        # Refused by the node: nothing moved. A timeout or an outage is not a refusal (the node may have taken
        # it), so the count stays until the tracker sees the transaction fail or vanish.
        if counted_now and not isinstance(exc, ChainUnavailable):
            limit_release(reference=reference)
        raise
    if sent != submission.tx_hash:  # the network's own hash is the one to follow
        limit_reference_move(old=reference, new=limit_reference(config.key, sent))
        submission = replace(submission, tx_hash=sent)
    return _record(user=user, config=config, submission=submission, asset=requested)


def transaction_track_hash(
    *,
    user,
    network: str,
    tx_hash: str,
    to_address: str | None = None,
    asset: str | None = None,
    amount: Decimal | None = None,
) -> tuple[ChainTransaction, bool]:
    """Record a transaction the wallet broadcast itself, as the network reports it."""
    config = chain(network)
    given = [value is not None for value in (to_address, asset, amount)]
    if any(given) and not all(given):
        raise InvalidInput(
            "incomplete_transfer", "Give asset, to_address and amount together (or none of them) with a tx_hash."
        )
    client = client_for(config)
    tx_hash = client.normalize_tx_hash(tx_hash)
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=tx_hash).first()
    if existing is not None:
        _require_own_wallet(user, config, existing.from_address)
        return existing, False
    submission = client.lookup(tx_hash)
    if submission is None:
        raise InvalidInput("transaction_not_found", f"{config.name} does not know transaction {tx_hash}.")
    _require_own_wallet(user, config, submission.sender)
    if asset is not None:
        token = asset_on_chain(config=config, symbol=asset)
        _require_match(config, submission, requested=token, to_address=to_address, amount=amount)
    else:
        token = _moved_asset(config, submission)
        if token is None or submission.recipient is None or submission.amount_base is None:
            raise InvalidInput("unsupported_transaction", "Only native coin and token transfers can be tracked.")
    # AML (apps/kyc): the transfer already happened on chain, so tracking it is not refused (the record is part
    # of the evidence); a sanctioned recipient opens an AML case for reviewers.
    for party in (submission.sender, submission.recipient):
        address_screen(user=user, address=party, chain_kind=config.kind, context="transaction_track", block=False)
    record, created = _record(user=user, config=config, submission=submission, asset=token)
    if created:
        _count_tracked(record, config=config, token=token)
    return record, created


def _count_tracked(record: ChainTransaction, *, config: ChainConfig, token: AssetOnChain) -> None:
    """A transfer the wallet sent itself has happened: it counts against the limits, unrefused (the next
    prepare sees less allowance), at the latest price however old. An asset that never had a price cannot be
    valued, which is logged, not an error."""
    try:
        usd_value = usd_value_for_limits(
            symbol=token.token.symbol, amount=from_base_units(int(record.amount_base), token.decimals), any_age=True
        )
    except UpstreamUnavailable:
        logger.warning("No price to count tracked transaction %s against %s's limits", record.tx_hash, record.user_id)
        return
    limit_record(
        user=record.user,
        usd_amount=usd_value,
        reference=limit_reference(config.key, record.tx_hash),
        kind="transaction",
        enforce=False,
    )


def _moved_asset(config: ChainConfig, submission: Submission) -> AssetOnChain | None:
    """The registry asset a transfer moves: the token at ``contract``, or the native coin; None if unknown."""
    if submission.contract is not None:
        return asset_by_contract(config=config, contract=submission.contract)
    return native_asset(config=config) if native_symbol(config) else None


def _require_own_wallet(user, config: ChainConfig, address: str) -> None:
    if address not in wallets_of(user, config.kind):
        raise InvalidInput(
            "sender_not_your_wallet",
            "The transaction is signed by an address that is not one of your verified wallets.",
            {"sender": address},
        )


def _require_match(
    config: ChainConfig, submission: Submission, *, requested: AssetOnChain, to_address: str, amount: Decimal
) -> None:
    moved = _moved_asset(config, submission) if submission.recipient is not None else None
    if moved is None or moved.token.pk != requested.token.pk or submission.amount_base is None:
        raise InvalidInput(
            "asset_mismatch",
            f"The signed transaction does not transfer {requested.token.symbol}.",
            {"asset": requested.token.symbol},
        )
    if submission.recipient != to_address:
        raise InvalidInput(
            "recipient_mismatch",
            f"The signed transaction pays {submission.recipient}, not {to_address}.",
            {"signed_recipient": submission.recipient, "to_address": to_address},
        )
    wanted = to_base_units(amount, requested.decimals)
    if submission.amount_base != wanted:
        decimals = requested.decimals
        raise InvalidInput(
            "amount_mismatch",
            f"The signed transaction moves {from_base_units(submission.amount_base, decimals)}, "
            f"not {from_base_units(wanted, decimals)}.",
            {"signed_amount": from_base_units(submission.amount_base, decimals)},
        )


def _record(
    *,
    user,
    config: ChainConfig,
    submission: Submission,
    asset: AssetOnChain,
    type: str = ChainTransaction.Type.SEND,
) -> tuple[ChainTransaction, bool]:
    fee = client_for(config).fee_asset()
    terms = {key: Decimal(value) for key, value in submission.fee_terms.items()}
    try:
        with transaction.atomic():
            record = ChainTransaction.objects.create(
                user=user,
                network=config.key,
                tx_hash=submission.tx_hash,
                type=type,
                status=ChainTransaction.Status.PENDING,
                from_address=submission.sender,
                to_address=submission.recipient,
                contract_address=asset.contract or "",
                asset=asset.token,
                decimals=asset.decimals,
                amount_base=Decimal(submission.amount_base),
                nonce=submission.nonce,
                gas_limit=terms.get("gas_limit"),
                max_fee_per_gas=terms.get("max_fee_per_gas"),
                max_priority_fee_per_gas=terms.get("max_priority_fee_per_gas"),
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
                message=f"Your {record.asset.symbol} {noun(record)} was sent to the network.",
                data=notification_data(record),
            )
    except IntegrityError:
        # The same transaction submitted twice at once: the other request recorded it.
        return ChainTransaction.objects.get(network=config.key, tx_hash=submission.tx_hash), False
    return record, True
