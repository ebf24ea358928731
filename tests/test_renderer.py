from __future__ import annotations

from decimal import Decimal

from engipay.api.renderers import ExactJSONRenderer


def test_decimals_are_written_with_their_own_digits():
    data = {"value_usd": Decimal("0.30"), "big": Decimal("123456789012345678901234.5678"), "n": 1, "s": "x"}
    assert ExactJSONRenderer().render(data) == (b'{"value_usd":0.30,"big":123456789012345678901234.5678,"n":1,"s":"x"}')
