"""Unsigned EIP-1559 contract calls for a wallet to sign (DESIGN.md section 1, step 1), with their gas estimate.

Several calls from one sender get consecutive nonces (approve, then create). A call that depends on an earlier one
of the set (create spends the allowance the approve grants) cannot be estimated alone, so a set is simulated in
order with ``eth_simulateV1``; a node without it gets the configured fallback limit, and the estimate says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.chains.clients import client_for
from apps.chains.clients import evm_rpc as rpc
from apps.chains.clients.base import AssetRef, require_funds
from apps.chains.clients.evm_transfers import fees_from_history
from apps.chains.registry import ChainConfig
from apps.chains.units import from_base_units
from apps.escrow.chain import error_decode, hex_data
from engipay.api.errors import InvalidInput

logger = logging.getLogger(__name__)
# Methods a node lacks (or refuses the shape of): then the fallback limit is used.
_UNSUPPORTED = (-32601, -32602, -32600)


@dataclass(frozen=True)
class Call:
    label: str  # "approve", "create", "accept" …
    to: str
    data: bytes
    value: int = 0


@dataclass(frozen=True)
class PreparedCalls:
    steps: list[dict[str, Any]]  # [{"step": label, "transaction": unsigned tx (0x-hex quantities)}], in order
    gas_estimate: dict[str, Any]  # the API guide's gas_estimate, plus detail


def _why(exc: rpc.NodeError) -> str:
    data = rpc.revert_data(exc)
    custom = error_decode(data) if data else None
    if custom is not None:
        return str(custom)
    return rpc.revert_reason(data) if data else exc.message


def _refused(reason: str) -> InvalidInput:
    return InvalidInput("transaction_would_fail", f"The network refuses this transaction: {reason}", {"reason": reason})


def _gas_one(client, sender: str, call: Call) -> int:
    try:
        return rpc.qty(
            rpc.rpc(
                client,
                "eth_estimateGas",
                [{"from": sender, "to": call.to, "value": hex(call.value), "data": hex_data(call.data)}],
            )
        )
    except rpc.NodeError as exc:
        raise _refused(_why(exc)) from None


def _gas_in_sequence(client, sender: str, calls: list[Call]) -> tuple[list[int], str]:
    """Gas used by each call executed in order on the latest state (``eth_simulateV1``), padded like an
    estimate; the source is "simulated" or "fallback"."""
    block = {"calls": [{"from": sender, "to": c.to, "value": hex(c.value), "data": hex_data(c.data)} for c in calls]}
    try:
        (result,) = rpc.rpc(client, "eth_simulateV1", [{"blockStateCalls": [block]}, "latest"])
    except rpc.NodeError as exc:
        if exc.code not in _UNSUPPORTED:
            raise _refused(_why(exc)) from None
        logger.info("No eth_simulateV1 on %s: fallback gas for dependent calls", client.chain.key)
        first = _gas_one(client, sender, calls[0])
        return [first] + [settings.ESCROW_FALLBACK_CALL_GAS] * (len(calls) - 1), "fallback"
    gas = []
    for call, outcome in zip(calls, result["calls"], strict=True):
        if rpc.qty(outcome["status"]) != 1:
            error = outcome.get("error") or {}
            data = error.get("data")
            reason = _why(rpc.NodeError(error.get("message", "reverted"), error.get("code"), data))
            raise _refused(f"{call.label}: {reason}")
        # gasUsed is after refunds and below what the call needs to run (the 63/64 rule): pad it.
        gas.append(rpc.qty(outcome["gasUsed"]) * 13 // 10 + 10_000)
    return gas, "simulated"


def calls_prepare(
    *, config: ChainConfig, sender: str, calls: list[Call], token: AssetRef | None = None, token_amount: int = 0
) -> PreparedCalls:
    """The unsigned transactions for ``calls`` from ``sender`` and what they cost. Refuses (400) a set the
    network would revert, or that the sender cannot pay: the ETH value plus the most the fees can be, and
    ``token_amount`` of ``token``."""
    client = client_for(config)
    batch: list[tuple[str, list[Any]]] = [
        ("eth_getTransactionCount", [sender, "pending"]),
        ("eth_getBalance", [sender, "latest"]),
        ("eth_feeHistory", [hex(settings.TX_FEE_HISTORY_BLOCKS), "latest", [settings.TX_PRIORITY_FEE_PERCENTILE]]),
    ]
    if token is not None and token.contract:
        owner = bytes.fromhex(sender[2:]).rjust(32, b"\0")
        batch.append(("eth_call", [{"to": token.contract, "data": hex_data(rpc.BALANCE_OF + owner)}, "latest"]))
    results = rpc.rpc_batch(client, batch)
    nonce, native_balance = rpc.qty(results[0]), rpc.qty(results[1])
    base_fee, priority_fee = fees_from_history(results[2])
    if token is not None and token.contract:
        require_funds(int(results[3], 16) if results[3] not in (None, "0x") else 0, token_amount, token, "to lock")
    fee = client.fee_asset()
    value = sum(c.value for c in calls)
    require_funds(native_balance, value, fee, "to lock")  # before estimating: a node refuses an unfunded call
    if len(calls) == 1:
        estimates, source = [_gas_one(client, sender, calls[0])], "estimated"
    else:
        estimates, source = _gas_in_sequence(client, sender, calls)
    margin = 100 + settings.TX_GAS_MARGIN_PERCENT
    limits = [gas if source != "estimated" else -(-gas * margin // 100) for gas in estimates]
    max_fee = 2 * base_fee + priority_fee
    require_funds(native_balance, value + sum(limits) * max_fee, fee, "for the amount and the network fees")
    steps = [
        {
            "step": call.label,
            "transaction": {
                "type": "0x2",
                "chainId": hex(int(config.chain_id)),
                "from": sender,
                "nonce": hex(nonce + index),
                "to": call.to,
                "value": hex(call.value),
                "data": hex_data(call.data),
                "gas": hex(limit),
                "maxFeePerGas": hex(max_fee),
                "maxPriorityFeePerGas": hex(priority_fee),
            },
        }
        for index, (call, limit) in enumerate(zip(calls, limits, strict=True))
    ]
    expected_price = base_fee + priority_fee
    return PreparedCalls(
        steps=steps,
        gas_estimate={
            "gas_limit": str(sum(limits)),
            "gas_price": from_base_units(expected_price, 9),
            "total_fee": from_base_units(sum(estimates) * expected_price, fee.decimals),
            "max_fee": from_base_units(sum(limits) * max_fee, fee.decimals),
            "fee_asset": fee.symbol,
            "max_fee_per_gas": from_base_units(max_fee, 9),
            "max_priority_fee_per_gas": from_base_units(priority_fee, 9),
            "source": source,
        },
    )
