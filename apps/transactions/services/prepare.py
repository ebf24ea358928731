"""Step 1 of DESIGN.md section 1: build what the wallet signs (an EVM transaction, Starknet calls, a Bitcoin PSBT)
and its fee estimate, through the network's chain client. Nothing is stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.chains.clients import client_for
from apps.chains.clients.base import AssetRef, TransferIntent
from apps.chains.registry import chain
from apps.chains.units import from_base_units, to_base_units
from apps.kyc.services import check_limit
from apps.kyc.services.screening import address_screen

from .assets import AssetOnChain, asset_on_chain, sender_for, usd_price, usd_value_for_limits


def asset_ref(asset: AssetOnChain) -> AssetRef:
    return AssetRef(symbol=asset.token.symbol, contract=asset.contract, decimals=asset.decimals)


def transaction_prepare(
    *, user, network: str, asset: str, to_address: str, amount: Decimal, from_address: str | None = None
) -> dict[str, Any]:
    """The unsigned transaction and its fee estimate. Refuses an amount or fee the sender cannot pay."""
    config = chain(network)
    # AML (apps/kyc): a sanctioned recipient → 403 sanctioned_address, before anything is built.
    address_screen(user=user, address=to_address, chain_kind=config.kind, context="transaction_prepare")
    token = asset_on_chain(config=config, symbol=asset)
    amount_base = to_base_units(amount, token.decimals)
    sender = sender_for(user=user, from_address=from_address, chain_kind=config.kind)
    # AML: a wallet listed after it was linked may not send through EngiPay either.
    address_screen(user=user, address=sender, chain_kind=config.kind, context="transaction_sender")
    # KYC (apps/kyc): the transfer must fit the user's tier limits → 403 kyc_limit_exceeded with what remains.
    check_limit(
        user, usd_value_for_limits(symbol=token.token.symbol, amount=from_base_units(amount_base, token.decimals))
    )
    prepared = client_for(config).prepare_transfer(
        TransferIntent(sender=sender, recipient=to_address, asset=asset_ref(token), amount_base=amount_base)
    )
    fee = prepared.fee_asset
    price, source = usd_price(fee.symbol)
    expected = None if prepared.fee_expected_base is None else from_base_units(prepared.fee_expected_base, fee.decimals)
    ceiling = None if prepared.fee_max_base is None else from_base_units(prepared.fee_max_base, fee.decimals)
    return {
        "transaction": prepared.unsigned,
        "fee_estimate": {
            "asset": fee.symbol,
            **prepared.fee_details,
            "expected_fee": expected,
            "max_fee": ceiling,
            "price_usd": price,
            "expected_fee_usd": None if price is None or expected is None else Decimal(expected) * price,
            "max_fee_usd": None if price is None or ceiling is None else Decimal(ceiling) * price,
            "price_source": source,
        },
        "network": config.key,
        "asset": token.token.symbol,
        "amount": from_base_units(amount_base, token.decimals),
        "to_address": to_address,
        "status": "awaiting_signature",
    }
