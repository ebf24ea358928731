"""Contract calls a higher app prepared (an escrow's create or accept, a token approval): check that what the wallet
signed is exactly one of them, send it, and record it so the tracker follows it to finality like any transfer.
EVM only (contract calls are prepared for EVM chains).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_utils import to_checksum_address

from apps.chains.clients import client_for
from apps.chains.clients import evm_rpc as rpc
from apps.chains.clients.base import Submission
from apps.chains.registry import ChainConfig, chain
from apps.kyc.services.limits import limit_record, limit_release
from apps.kyc.services.screening import address_screen
from apps.transactions.models import ChainTransaction
from engipay.api.errors import ApplicationError, ChainUnavailable, InvalidInput, StateConflict

from .assets import asset_on_chain, limit_reference, wallets_of
from .broadcast import _record


@dataclass(frozen=True)
class ExpectedCall:
    """One prepared call: what must be signed, and how the transaction shows in the user's history."""

    to: str
    data: bytes
    value: int
    type: str  # ChainTransaction.Type
    asset: str | None  # the symbol of the asset the call moves; None: not in the registry (sent, not recorded)
    amount_base: int
    shown_to: str  # the history's to_address (the contract)
    limit_usd: Decimal | None = None  # counted against the user's KYC limits when sent


def _matching(to: str | None, data: bytes, value: int, expected: list[ExpectedCall]) -> ExpectedCall:
    for call in expected:
        same_target = to is not None and to_checksum_address(to) == to_checksum_address(call.to)
        if same_target and bytes(data) == call.data and value == call.value:
            return call
    raise InvalidInput(
        "transaction_mismatch",
        "The signed transaction is not one of the calls prepared for this action (target, data or value differ).",
        {"signed_to": to, "expected_to": sorted({call.to for call in expected})},
    )


def _require_signer(user, config: ChainConfig, sender: str, signer: str, *, own_wallet: bool) -> None:
    if to_checksum_address(sender) != to_checksum_address(signer):
        raise InvalidInput(
            "wrong_signer", f"This transaction must be signed by {signer}, not {sender}.", {"signer": signer}
        )
    if own_wallet and sender not in wallets_of(user, config.kind):
        raise InvalidInput(
            "sender_not_your_wallet",
            "The transaction is signed by an address that is not one of your verified wallets.",
            {"sender": sender},
        )


def _existing(config: ChainConfig, user, tx_hash: str) -> ChainTransaction | None:
    existing = ChainTransaction.objects.filter(network=config.key, tx_hash=tx_hash).first()
    if existing is not None and existing.user_id != user.pk:
        raise StateConflict("transaction_recorded_elsewhere", "This transaction is recorded for another account.")
    return existing


def contract_call_broadcast(
    *, user, network: str, signed_transaction: str, expected: list[ExpectedCall], signer: str, own_wallet: bool = True
) -> tuple[ChainTransaction | str, bool, ExpectedCall]:
    """Validate a signed call against ``expected`` and send it. Returns (record, created, the call it is); the
    same transaction again → its record. A call whose asset is not in the registry is sent but not recorded: its
    hash comes back instead of a record. ``own_wallet``: the signer must be one of the user's verified wallets
    (False for a key the platform's staff hold, such as the dispute resolver)."""
    config = chain(network)
    if config.kind != "evm" or not isinstance(signed_transaction, str):
        raise InvalidInput("invalid_signed_transaction", "signed_transaction must be a signed EVM transaction (hex).")
    raw = signed_transaction if signed_transaction.startswith("0x") else "0x" + signed_transaction
    decoded = rpc.decode_signed(raw)
    if decoded.chain_id != int(config.chain_id):
        raise InvalidInput(
            "chain_id_mismatch",
            f"The transaction is signed for chain id {decoded.chain_id}; {config.name} is {config.chain_id}.",
            {"signed_chain_id": decoded.chain_id, "network_chain_id": int(config.chain_id)},
        )
    _require_signer(user, config, decoded.sender, signer, own_wallet=own_wallet)
    call = _matching(decoded.to, decoded.data, decoded.value, expected)
    address_screen(user=user, address=decoded.sender, chain_kind=config.kind, context="transaction_sender")
    existing = _existing(config, user, decoded.tx_hash)
    if existing is not None:
        return existing, False, call
    reference = limit_reference(config.key, decoded.tx_hash)
    counted_now = False
    if call.limit_usd is not None:
        _, counted_now = limit_record(user=user, usd_amount=call.limit_usd, reference=reference, kind="transaction")
    submission = Submission(
        tx_hash=decoded.tx_hash,
        sender=decoded.sender,
        recipient=call.shown_to,
        contract=None,
        amount_base=call.amount_base,
        nonce=decoded.nonce,
        raw=raw,
        fee_max_base=decoded.gas * decoded.max_fee_per_gas,
        fee_terms={
            key: value
            for key, value in {
                "gas_limit": decoded.gas,
                "max_fee_per_gas": decoded.max_fee_per_gas,
                "max_priority_fee_per_gas": decoded.max_priority_fee_per_gas,
            }.items()
            if value is not None
        },
    )
    try:
        client_for(config).send(submission)
    except ApplicationError as exc:
        if counted_now and not isinstance(exc, ChainUnavailable):
            limit_release(reference=reference)
        raise
    return _record_call(user=user, config=config, submission=submission, call=call)


def contract_call_track(
    *, user, network: str, tx_hash: str, expected: list[ExpectedCall], signer: str, own_wallet: bool = True
) -> tuple[ChainTransaction | str, bool, ExpectedCall]:
    """Record a prepared call the wallet broadcast itself, as the network reports it."""
    config = chain(network)
    client = client_for(config)
    tx_hash = client.normalize_tx_hash(tx_hash)
    found = rpc.rpc(client, "eth_getTransactionByHash", [tx_hash])
    if found is None:
        raise InvalidInput("transaction_not_found", f"{config.name} does not know transaction {tx_hash}.")
    sender = to_checksum_address(found["from"])
    _require_signer(user, config, sender, signer, own_wallet=own_wallet)
    call = _matching(found.get("to"), bytes.fromhex(found["input"][2:]), rpc.qty(found["value"]), expected)
    existing = _existing(config, user, tx_hash)
    if existing is not None:
        return existing, False, call
    if call.limit_usd is not None:
        limit_record(
            user=user,
            usd_amount=call.limit_usd,
            reference=limit_reference(config.key, tx_hash),
            kind="transaction",
            enforce=False,
        )
    max_fee = rpc.qty(found.get("maxFeePerGas") or found.get("gasPrice"))
    submission = Submission(
        tx_hash=tx_hash,
        sender=sender,
        recipient=call.shown_to,
        contract=None,
        amount_base=call.amount_base,
        nonce=rpc.qty(found["nonce"]),
        fee_terms={"gas_limit": rpc.qty(found["gas"]), **({} if max_fee is None else {"max_fee_per_gas": max_fee})},
    )
    return _record_call(user=user, config=config, submission=submission, call=call)


def _record_call(
    *, user, config: ChainConfig, submission: Submission, call: ExpectedCall
) -> tuple[ChainTransaction | str, bool, ExpectedCall]:
    if call.asset is None:  # a token outside the registry: the history cannot show it; the caller keeps the hash
        return submission.tx_hash, True, call
    asset = asset_on_chain(config=config, symbol=call.asset)
    record, created = _record(user=user, config=config, submission=submission, asset=asset, type=call.type)
    return record, created, call
