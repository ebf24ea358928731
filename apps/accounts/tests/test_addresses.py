from __future__ import annotations

import pytest

from apps.accounts.addresses import STARKNET_FIELD_PRIME, normalize
from engipay.api.errors import InvalidInput


@pytest.mark.parametrize(
    ("kind", "raw", "normalised"),
    [
        ("evm", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        ("evm", " 0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266 ", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        ("starknet", "0x4a", "0x" + "0" * 62 + "4a"),
        ("starknet", "0x04A", "0x" + "0" * 62 + "4a"),
        ("bitcoin", "BC1QXY2KGDYGJRSQTZQ2N0YRF2493P83KKFJHX0WLH", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"),
        ("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ],
)
def test_one_spelling_per_account(kind, raw, normalised):
    assert normalize(kind, raw) == normalised


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("evm", "0x1234"),
        ("evm", "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
        ("starknet", "0x" + "f" * 65),
        ("starknet", hex(STARKNET_FIELD_PRIME)),
        ("starknet", "4a"),
        ("bitcoin", "bc1QxY2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"),  # mixed-case bech32 is invalid
        ("bitcoin", "0xabc"),
    ],
)
def test_bad_addresses_are_refused(kind, raw):
    with pytest.raises(InvalidInput) as caught:
        normalize(kind, raw)
    assert caught.value.code == "invalid_address"
