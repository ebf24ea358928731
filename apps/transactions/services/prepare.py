"""Step 1 of DESIGN.md section 1: build the unsigned EIP-1559 transaction the wallet signs. Nothing is stored."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from web3 import Web3

from apps.chains.clients import client_for
from apps.chains.registry import chain, native_symbol
from apps.transactions import evm
from engipay.api.errors import InvalidInput

from .assets import asset_on_chain, sender_for, usd_price
from .transfers import transfer_prepare

logger = logging.getLogger(__name__)


def transaction_prepare(
    *, user, network: str, asset: str, to_address: str, amount: Decimal, from_address: str | None = None
) -> dict[str, Any]:
    """The unsigned transaction (JSON-RPC quantities: 0x-hex strings, as eth-account and EIP-1193 wallets take
    them) and its fee estimate. Refuses an amount or fee the sender cannot pay."""
    config = chain(network)
    if config.kind != "evm":
        return transfer_prepare(
            user=user, config=config, asset=asset, to_address=to_address, amount=amount, from_address=from_address
        )
    token = asset_on_chain(config=config, symbol=asset)
    if amount <= 0:
        raise InvalidInput("invalid_amount", "amount must be more than zero.")
    amount_base = evm.to_base_units(amount, token.decimals)
    sender = sender_for(user=user, from_address=from_address)
    recipient = Web3.to_checksum_address(to_address)
    client = client_for(config)
    if token.is_native:
        to, value, data = recipient, amount_base, b""
    else:
        to, value, data = token.contract, 0, evm.erc20_transfer_data(recipient, amount_base)

    calls: list[tuple[str, list[Any]]] = [
        ("eth_getTransactionCount", [sender, "pending"]),
        ("eth_getBalance", [sender, "latest"]),
        (
            "eth_feeHistory",
            [hex(settings.TX_FEE_HISTORY_BLOCKS), "latest", [settings.TX_PRIORITY_FEE_PERCENTILE]],
        ),
    ]
    if not token.is_native:
        owner = Web3.to_bytes(hexstr=sender).rjust(32, b"\0")
        calls.append(("eth_call", [{"to": token.contract, "data": "0x" + (evm.BALANCE_OF + owner).hex()}, "latest"]))
    results = evm.rpc_batch(client, calls)
    nonce, native_balance = evm.qty(results[0]), evm.qty(results[1])
    base_fee, priority_fee = _fees(results[2])
    if not token.is_native:
        token_balance = int(results[3], 16) if results[3] not in (None, "0x") else 0
        _require(token_balance, amount_base, token.decimals, asset.upper(), "to send")

    estimate = _estimate_gas(client, {"from": sender, "to": to, "value": hex(value), "data": "0x" + data.hex()})
    gas = (
        estimate if estimate == evm.PLAIN_TRANSFER_GAS else -(-estimate * (100 + settings.TX_GAS_MARGIN_PERCENT) // 100)
    )
    max_fee = 2 * base_fee + priority_fee
    symbol = native_symbol(config)
    _require(native_balance, value + gas * max_fee, 18, symbol, "for the amount and the network fee")

    return {
        "transaction": {
            "type": "0x2",
            "chainId": hex(int(config.chain_id)),
            "from": sender,
            "nonce": hex(nonce),
            "to": to,
            "value": hex(value),
            "data": "0x" + data.hex(),
            "gas": hex(gas),
            "maxFeePerGas": hex(max_fee),
            "maxPriorityFeePerGas": hex(priority_fee),
        },
        "fee_estimate": _fee_estimate(
            symbol=symbol,
            gas=gas,
            estimate=estimate,
            base_fee=base_fee,
            priority_fee=priority_fee,
            max_fee=max_fee,
        ),
        "network": config.key,
        "asset": token.token.symbol,
        "amount": evm.from_base_units(amount_base, token.decimals),
        "to_address": recipient,
        "status": "awaiting_signature",
    }


def _fees(history: dict[str, Any]) -> tuple[int, int]:
    """(next block's base fee, priority fee): the median of the chosen reward percentile over recent blocks."""
    base_fee = evm.qty(history["baseFeePerGas"][-1])
    rewards = sorted(evm.qty(row[0]) for row in history.get("reward") or [] if row)
    median = rewards[len(rewards) // 2] if rewards else 0
    return base_fee, max(median, settings.TX_MIN_PRIORITY_FEE_WEI)


def _estimate_gas(client, call: dict[str, Any]) -> int:
    try:
        return evm.qty(evm.rpc(client, "eth_estimateGas", [call]))
    except evm.NodeError as exc:
        reason = evm.revert_reason(evm.revert_data(exc)) if evm.revert_data(exc) else exc.message
        raise InvalidInput(
            "transaction_would_fail", f"The network refuses this transaction: {reason}", {"reason": reason}
        ) from None


def _require(available: int, required: int, decimals: int, symbol: str, what: str) -> None:
    if available < required:
        raise InvalidInput(
            "insufficient_funds",
            f"Insufficient {symbol} balance: {evm.from_base_units(required, decimals)} {symbol} needed {what}, "
            f"{evm.from_base_units(available, decimals)} {symbol} available.",
            {
                "asset": symbol,
                "required": evm.from_base_units(required, decimals),
                "available": evm.from_base_units(available, decimals),
            },
        )


def _fee_estimate(
    *, symbol: str, gas: int, estimate: int, base_fee: int, priority_fee: int, max_fee: int
) -> dict[str, Any]:
    expected = estimate * (base_fee + priority_fee)
    ceiling = gas * max_fee
    price, source = usd_price(symbol)
    return {
        "asset": symbol,
        "gas_limit": str(gas),
        "gas_estimate": str(estimate),
        "base_fee_per_gas": evm.from_base_units(base_fee, 9),
        "max_priority_fee_per_gas": evm.from_base_units(priority_fee, 9),
        "max_fee_per_gas": evm.from_base_units(max_fee, 9),
        "expected_fee": evm.from_base_units(expected, 18),
        "max_fee": evm.from_base_units(ceiling, 18),
        "price_usd": price,
        "expected_fee_usd": None if price is None else Decimal(evm.from_base_units(expected, 18)) * price,
        "max_fee_usd": None if price is None else Decimal(evm.from_base_units(ceiling, 18)) * price,
        "price_source": source,
    }
