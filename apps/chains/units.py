"""The one helper pair between token units (decimal strings at the API edge) and base units (int on chain)."""

from __future__ import annotations

from decimal import Decimal, localcontext

from engipay.api.errors import InvalidInput


def to_base_units(amount: Decimal, decimals: int) -> int:
    """Token units → base units; more decimals than the token has is refused, never rounded."""
    # The default context keeps 28 digits and would silently round a uint256.
    with localcontext(prec=100):
        scaled = amount.scaleb(decimals)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise InvalidInput("too_precise", f"At most {decimals} decimals for this asset.", {"decimals": decimals})
    return int(scaled)


def from_base_units(amount: int | Decimal, decimals: int) -> str:
    """Base units → a decimal string in token units without exponent or trailing zeros ("0.1", "100")."""
    with localcontext(prec=100):
        value = Decimal(int(amount)).scaleb(-decimals).normalize()
    return format(value, "f")
