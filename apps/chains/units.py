"""The one helper pair between token units (decimal strings at the API edge) and base units (int on chain)."""

from __future__ import annotations

from decimal import Decimal, Inexact, localcontext

from engipay.api.errors import InvalidInput

UINT256_MAX = 2**256 - 1


def to_base_units(amount: Decimal, decimals: int) -> int:
    """Token units → base units; more decimals than the token has is refused, never rounded."""
    # The default context keeps 28 digits and would silently round a uint256.
    try:
        with localcontext(prec=100) as context:
            context.traps[Inexact] = False
            scaled = amount.scaleb(decimals)
    except (ArithmeticError, ValueError):
        raise InvalidInput("invalid_amount", "The amount is not a usable number.") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise InvalidInput("too_precise", f"At most {decimals} decimals for this asset.", {"decimals": decimals})
    if not 0 <= scaled <= UINT256_MAX:
        raise InvalidInput("amount_too_large", "The amount is larger than any token balance can be.")
    return int(scaled)


def from_base_units(amount: int | Decimal, decimals: int) -> str:
    """Base units → a decimal string in token units without exponent or trailing zeros ("0.1", "100")."""
    with localcontext(prec=100):
        value = Decimal(int(amount)).scaleb(-decimals).normalize()
    return format(value, "f")
