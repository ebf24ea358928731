"""Step 3 of DESIGN.md section 1: check what the wallet signed against what the user asked for, then send it
(or record a transaction the wallet sent itself). Idempotent on the transaction hash."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from web3 import Web3

from apps.chains.clients import client_for
from apps.chains.registry import ChainConfig, chain
from apps.notifications.services import notify
from apps.transactions import evm
from apps.transactions.models import ChainTransaction
from engipay.api.errors import InvalidInput, StateConflict

from .assets import AssetOnChain, asset_by_contract, asset_on_chain, evm_wallets, native_asset
from .events import event_record, notification_data
from .transfers import transfer_broadcast, transfer_track_hash

# Node refusals worth a stable code; anything else is `transaction_rejected` with the node's words.
_NODE_REFUSALS = [
    ("nonce too low", "nonce_too_low"),
    ("nonce too high", "nonce_too_high"),
    ("underpriced", "replacement_underpriced"),
    ("insufficient funds", "insufficient_funds"),
    ("intrinsic gas too low", "gas_too_low"),
    ("fee cap less than block base fee", "fee_too_low"),
    ("max fee per gas less than block base fee", "fee_too_low"),
    ("exceeds block gas limit", "gas_too_high"),
]


@dataclass(frozen=True)
class Transfer:
    """What a transaction moves: ``asset`` to ``recipient``, ``amount`` base units."""

    asset: AssetOnChain
    recipient: str
    amount: int


def transaction_broadcast(
    *,
    user,
    network: str,
    signed_transaction: str,
    to_address: str,
    asset: str,
    amount: Decimal,
) -> tuple[ChainTransaction, bool]:
    """Validate and send a signed transaction. Returns (record, created); the same transaction again → its record."""
    config = chain(network)
    if config.kind != "evm":
        return transfer_broadcast(
            user=user,
            config=config,
            signed_transaction=signed_transaction,
            to_address=to_address,
            asset=asset,
            amount=amount,
        )
    if not isinstance(signed_transaction, str):
        raise InvalidInput("invalid_signed_transaction", "signed_transaction must be the signed raw transaction (hex).")
    requested = _requested(config=config, asset=asset, to_address=to_address, amount=amount)
    decoded = evm.decode_signed(signed_transaction)
    if decoded.chain_id != int(config.chain_id):
        raise InvalidInput(
            "chain_id_mismatch",
            f"The transaction is signed for chain id {decoded.chain_id}; {config.name} is {config.chain_id}.",
            {"signed_chain_id": decoded.chain_id, "network_chain_id": int(config.chain_id)},
        )
    _require_own_wallet(user, decoded.sender)
    actual = _transfer_of(config=config, to=decoded.to, value=decoded.value, data=decoded.data, known=requested.asset)
    _require_match(requested, actual)

    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=decoded.tx_hash).first()
    if existing is not None:
        if existing.user_id != user.pk:  # cannot happen while a wallet has one owner; never show another's row
            raise StateConflict("transaction_recorded_elsewhere", "This transaction is recorded for another account.")
        return existing, False
    _send(config, signed_transaction, decoded.tx_hash)
    return _record(
        user=user,
        config=config,
        tx_hash=decoded.tx_hash,
        sender=decoded.sender,
        transfer=requested,
        nonce=decoded.nonce,
        gas=decoded.gas,
        max_fee=decoded.max_fee_per_gas,
        priority_fee=decoded.max_priority_fee_per_gas,
        raw=signed_transaction,
    )


def transaction_track_hash(
    *,
    user,
    network: str,
    tx_hash: str,
    to_address: str | None = None,
    asset: str | None = None,
    amount: Decimal | None = None,
) -> tuple[ChainTransaction, bool]:
    """Record a transaction the wallet broadcast itself, as the node reports it."""
    config = chain(network)
    if config.kind != "evm":
        return transfer_track_hash(
            user=user, config=config, tx_hash=tx_hash, to_address=to_address, asset=asset, amount=amount
        )
    given = [value is not None for value in (to_address, asset, amount)]
    if any(given) and not all(given):
        raise InvalidInput(
            "incomplete_transfer", "Give asset, to_address and amount together (or none of them) with a tx_hash."
        )
    tx_hash = tx_hash.lower()
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=tx_hash).first()
    if existing is not None:
        _require_own_wallet(user, existing.from_address)
        return existing, False
    found = evm.rpc(client_for(config), "eth_getTransactionByHash", [tx_hash])
    if found is None:
        raise InvalidInput("transaction_not_found", f"{config.name} does not know transaction {tx_hash}.")
    sender = Web3.to_checksum_address(found["from"])
    _require_own_wallet(user, sender)
    actual = _transfer_of(
        config=config,
        to=found.get("to"),
        value=evm.qty(found["value"]),
        data=bytes(Web3.to_bytes(hexstr=found["input"])),
    )
    if actual is None:
        raise InvalidInput("unsupported_transaction", "Only native coin and ERC-20 transfers can be tracked.")
    if asset is not None and to_address is not None and amount is not None:
        _require_match(_requested(config=config, asset=asset, to_address=to_address, amount=amount), actual)
    return _record(
        user=user,
        config=config,
        tx_hash=tx_hash,
        sender=sender,
        transfer=actual,
        nonce=evm.qty(found["nonce"]),
        gas=evm.qty(found["gas"]),
        max_fee=evm.qty(found.get("maxFeePerGas") or found.get("gasPrice")),
        priority_fee=evm.qty(found.get("maxPriorityFeePerGas")),
        raw="",
    )


def _requested(*, config: ChainConfig, asset: str, to_address: str, amount: Decimal) -> Transfer:
    token = asset_on_chain(config=config, symbol=asset)
    return Transfer(
        asset=token,
        recipient=Web3.to_checksum_address(to_address),
        amount=evm.to_base_units(amount, token.decimals),
    )


def _transfer_of(
    *, config: ChainConfig, to: str | None, value: int, data: bytes, known: AssetOnChain | None = None
) -> Transfer | None:
    """The transfer a transaction makes: a native payment (no call data) or an ERC-20 ``transfer``; else None.
    ``known``: the asset the request names, looked up already (saves the registry queries when it matches)."""
    if to is None:
        return None
    to = Web3.to_checksum_address(to)
    if not data:
        native = known if known is not None and known.is_native else native_asset(config=config)
        return Transfer(asset=native, recipient=to, amount=value)
    call = evm.erc20_transfer_decode(data)
    reuse = known is not None and known.contract == to
    token = known if reuse else asset_by_contract(config=config, contract=to)
    if call is None or token is None or value != 0:
        return None
    return Transfer(asset=token, recipient=call[0], amount=call[1])


def _require_own_wallet(user, address: str) -> None:
    if Web3.to_checksum_address(address) not in evm_wallets(user):
        raise InvalidInput(
            "sender_not_your_wallet",
            "The transaction is signed by an address that is not one of your verified wallets.",
            {"sender": address},
        )


def _require_match(requested: Transfer, actual: Transfer | None) -> None:
    if actual is None or actual.asset.token.pk != requested.asset.token.pk:
        raise InvalidInput(
            "asset_mismatch",
            f"The signed transaction does not transfer {requested.asset.token.symbol}.",
            {"asset": requested.asset.token.symbol},
        )
    if actual.recipient != requested.recipient:
        raise InvalidInput(
            "recipient_mismatch",
            f"The signed transaction pays {actual.recipient}, not {requested.recipient}.",
            {"signed_recipient": actual.recipient, "to_address": requested.recipient},
        )
    if actual.amount != requested.amount:
        decimals = requested.asset.decimals
        raise InvalidInput(
            "amount_mismatch",
            f"The signed transaction moves {evm.from_base_units(actual.amount, decimals)}, "
            f"not {evm.from_base_units(requested.amount, decimals)}.",
            {"signed_amount": evm.from_base_units(actual.amount, decimals)},
        )


def _send(config: ChainConfig, raw: str, tx_hash: str) -> None:
    client = client_for(config)
    try:
        evm.rpc(client, "eth_sendRawTransaction", [raw])
    except evm.NodeError as exc:
        # Sent before (a retry after a lost response, or the wallet sent it too): the node has it, so it counts.
        if evm.rpc(client, "eth_getTransactionByHash", [tx_hash]) is not None:
            return
        lowered = exc.message.lower()
        code = next((code for needle, code in _NODE_REFUSALS if needle in lowered), "transaction_rejected")
        raise InvalidInput(
            code, f"The node refused the transaction: {exc.message}", {"node_message": exc.message}
        ) from None


def _record(
    *,
    user,
    config: ChainConfig,
    tx_hash: str,
    sender: str,
    transfer: Transfer,
    nonce: int,
    gas: int,
    max_fee: int | None,
    priority_fee: int | None,
    raw: str,
) -> tuple[ChainTransaction, bool]:
    try:
        with transaction.atomic():
            record = ChainTransaction.objects.create(
                user=user,
                network=config.key,
                tx_hash=tx_hash,
                status=ChainTransaction.Status.PENDING,
                from_address=sender,
                to_address=transfer.recipient,
                contract_address=transfer.asset.contract or "",
                asset=transfer.asset.token,
                decimals=transfer.asset.decimals,
                amount_base=Decimal(transfer.amount),
                nonce=nonce,
                gas_limit=Decimal(gas),
                max_fee_per_gas=None if max_fee is None else Decimal(max_fee),
                max_priority_fee_per_gas=None if priority_fee is None else Decimal(priority_fee),
                raw_transaction=raw,
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
        # The same transaction submitted twice at once: the other request recorded it.
        return ChainTransaction.objects.get(network=config.key, tx_hash=tx_hash), False
    return record, True
