"""Address normalisation: one spelling per account, so one account is one row."""

from __future__ import annotations

import re

from eth_utils import is_hex_address, to_checksum_address

from engipay.api.errors import InvalidInput

from .models import ChainKind

STARKNET_FIELD_PRIME = 2**251 + 17 * 2**192 + 1
_EVM_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_STARKNET_RE = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_BECH32_RE = re.compile(r"^(bc|tb|bcrt)1[02-9ac-hj-np-z]{6,87}$")
_BASE58_RE = re.compile(r"^[123mn][1-9A-HJ-NP-Za-km-z]{25,34}$")


def normalize_evm(address: str) -> str:
    if not isinstance(address, str) or not _EVM_RE.match(address) or not is_hex_address(address):
        raise InvalidInput("invalid_address", "Not an EVM address (0x followed by 40 hex digits).")
    return to_checksum_address(address)


def normalize_starknet(address: str) -> str:
    if not isinstance(address, str) or not _STARKNET_RE.match(address):
        raise InvalidInput("invalid_address", "Not a Starknet address (0x followed by up to 64 hex digits).")
    value = int(address, 16)
    if value >= STARKNET_FIELD_PRIME:
        raise InvalidInput("invalid_address", "Starknet address is outside the field.")
    return f"0x{value:064x}"


def normalize_bitcoin(address: str) -> str:
    if not isinstance(address, str):
        raise InvalidInput("invalid_address", "Not a Bitcoin address.")
    lowered = address.lower()
    if _BECH32_RE.match(lowered) and (address == lowered or address == address.upper()):
        return lowered
    if _BASE58_RE.match(address):
        return address  # base58 is case-sensitive: never change its case
    raise InvalidInput("invalid_address", "Not a Bitcoin address.")


def normalize(chain_kind: str, address: str) -> str:
    return {
        ChainKind.EVM: normalize_evm,
        ChainKind.STARKNET: normalize_starknet,
        ChainKind.BITCOIN: normalize_bitcoin,
    }[ChainKind(chain_kind)](address.strip() if isinstance(address, str) else address)
