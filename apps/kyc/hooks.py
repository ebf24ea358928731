"""Registrations with lower apps' hooks (STYLE.md section 1): every wallet the accounts app is about to create
or link is screened against the sanctions list (and the screening API when configured)."""

from __future__ import annotations

from apps.accounts.hooks import register_wallet_screener

from .services.screening import address_screen


@register_wallet_screener
def wallet_screen(*, user, chain_kind: str, address: str, context: str) -> None:
    address_screen(user=user, address=address, chain_kind=chain_kind, context=context)
