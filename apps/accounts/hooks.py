"""Hooks higher apps register with, so accounts can let them react without importing them (STYLE.md section 1).

``wallet_screeners``: called with ``user`` (None while signing up), ``chain_kind``, ``address`` (normalised) and
``context`` (``wallet_link``, ``wallet_sign_in``) before a wallet is created or linked, outside any transaction
(a screener may commit its own records, e.g. an AML case). A screener refuses the wallet by raising an
``ApplicationError`` (the kyc app raises 403 ``sanctioned_address``)."""

from __future__ import annotations

from typing import Any, Protocol


class WalletScreener(Protocol):
    def __call__(self, *, user: Any, chain_kind: str, address: str, context: str) -> None: ...


wallet_screeners: list[WalletScreener] = []


def register_wallet_screener(screener: WalletScreener) -> WalletScreener:
    """Add a screener (usable as a decorator; registering the same function twice keeps one)."""
    if screener not in wallet_screeners:
        wallet_screeners.append(screener)
    return screener


def screen_wallet(*, user: Any, chain_kind: str, address: str, context: str) -> None:
    """Run every registered screener; the first refusal propagates."""
    for screener in list(wallet_screeners):
        screener(user=user, chain_kind=chain_kind, address=address, context=context)


__all__ = ["WalletScreener", "register_wallet_screener", "screen_wallet", "wallet_screeners"]
