"""Price alerts: tell a user once when a stored price crosses their threshold (issue 8, part 3)."""

from __future__ import annotations

from apps.prices.models import AssetPrice


def price_alerts_evaluate(*, rows: list[AssetPrice]) -> int:
    """Fire the armed alerts that ``rows`` (newly stored prices) cross; return how many fired."""
    return 0
