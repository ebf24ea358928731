"""Proof that the caller controls a wallet.

EVM: an EIP-4361 (Sign-In with Ethereum) message signed with EIP-191 ``personal_sign``. The ``siwe`` package
parses the message against the ERC's ABNF; the signature is recovered over the exact text the wallet signed.
Starknet: SNIP-12 typed data checked by the account contract (``starknet_proof``).
Bitcoin: the same message in CAIP-122 form ("… wants you to sign in with your Bitcoin account:", ``Chain ID:
bip122:<genesis hash prefix>``), signed with BIP-322 (simple) or the legacy ``signmessage`` format
(``bitcoin_proof``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import siwe
from eth_account import Account
from eth_account.messages import encode_defunct

from engipay.api.errors import Unauthenticated

from . import bitcoin_proof


@dataclass(frozen=True)
class VerifiedMessage:
    address: str
    nonce: str
    chain_id: int
    domain: str


def _unauthenticated(code: str, message: str) -> Unauthenticated:
    return Unauthenticated(code, message)


def verify_siwe(
    *,
    message: str,
    signature: str,
    expected_address: str,
    allowed_domains: set[str],
    allowed_chain_ids: set[int],
    now: datetime | None = None,
) -> VerifiedMessage:
    """Check an EIP-4361 message and its signature; the caller still has to consume the nonce."""
    if not message or not signature:
        raise _unauthenticated("signature_required", "A signed Sign-In with Ethereum message is required.")
    try:
        # The regex parser: the ABNF one is quadratic (seconds of CPU for a few KB of hostile text).
        parsed = siwe.SiweMessage.from_message(message=message, abnf=False)
    except Exception:
        raise _unauthenticated("invalid_message", "The message is not an EIP-4361 sign-in message.") from None
    if parsed.domain not in allowed_domains:
        raise _unauthenticated("domain_mismatch", f"The message is for {parsed.domain}, not for this site.")
    if int(parsed.chain_id) not in allowed_chain_ids:
        raise _unauthenticated("chain_not_allowed", f"Chain ID {parsed.chain_id} is not accepted for sign-in.")
    if parsed.address.lower() != expected_address.lower():
        raise _unauthenticated("address_mismatch", "The message was signed for another address.")
    now = now or datetime.now(tz=UTC)
    if parsed.expiration_time is not None and now >= parsed.expiration_time._datetime:
        raise _unauthenticated("message_expired", "The sign-in message has expired.")
    if parsed.not_before is not None and now < parsed.not_before._datetime:
        raise _unauthenticated("message_not_yet_valid", "The sign-in message is not valid yet.")
    try:
        recovered = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:
        recovered = None
    if recovered is None or recovered.lower() != expected_address.lower():
        raise _unauthenticated("invalid_signature", "The signature does not match the address.")
    return VerifiedMessage(
        address=parsed.address, nonce=parsed.nonce, chain_id=int(parsed.chain_id), domain=parsed.domain
    )


# CAIP-2 ids of the Bitcoin networks: bip122 + the first 32 hex digits of the genesis block hash.
BIP122_CHAIN_IDS = {
    "mainnet": "bip122:000000000019d6689c085ae165831e93",
    "testnet": "bip122:000000000933ea01ad0ee984209779ba",
    "signet": "bip122:00000008819873e925422c1ff0f99f7c",
    "regtest": "bip122:0f9188f13cb7b2c71f2a335e3a4fc328",
}
_CAIP122 = re.compile(
    r"^(?P<domain>[^\s]+) wants you to sign in with your Bitcoin account:\n"
    r"(?P<address>[a-zA-Z0-9]{25,90})\n\n"
    r"(?:(?P<statement>[^\n]*)\n\n)?"
    r"URI: (?P<uri>[^\n]+)\n"
    r"Version: 1\n"
    r"Chain ID: (?P<chain_id>bip122:[0-9a-f]{32})\n"
    r"Nonce: (?P<nonce>[a-zA-Z0-9]{8,})\n"
    r"Issued At: (?P<issued_at>[^\n]+)"
    r"(?:\nExpiration Time: (?P<expiration_time>[^\n]+))?"
    r"(?:\nNot Before: (?P<not_before>[^\n]+))?"
    r"(?:\nRequest ID: [^\n]*)?"
    r"(?:\nResources:(?:\n- [^\n]+)*)?$"
)


def _rfc3339(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _unauthenticated("invalid_message", f"{what} is not an RFC 3339 date-time.") from None
    if parsed.tzinfo is None:
        raise _unauthenticated("invalid_message", f"{what} needs a time zone.")
    return parsed


def bitcoin_network_of(address: str) -> set[str]:
    """The networks an address can belong to, from its prefix (mainnet bc1/1/3; testnet+signet tb1/m/n/2;
    regtest bcrt1 or the testnet base58 prefixes)."""
    lowered = address.lower()
    if lowered.startswith("bcrt1"):
        return {"regtest"}
    if lowered.startswith("bc1") or address[:1] in ("1", "3"):
        return {"mainnet"}
    if lowered.startswith("tb1"):
        return {"testnet", "signet"}
    if address[:1] in ("m", "n", "2"):
        return {"testnet", "signet", "regtest"}
    return set()


def verify_bitcoin(
    *,
    message: str,
    signature: str,
    expected_address: str,
    allowed_domains: set[str],
    allowed_networks: set[str],
    now: datetime | None = None,
) -> VerifiedMessage:
    """Check a CAIP-122 sign-in message for a Bitcoin address and its BIP-322 (or legacy) signature."""
    if not message or not signature:
        raise _unauthenticated("signature_required", "A signed sign-in message is required.")
    parsed = _CAIP122.match(message.replace("\r\n", "\n")) if isinstance(message, str) else None
    if parsed is None:
        raise _unauthenticated("invalid_message", "The message is not a CAIP-122 sign-in message for Bitcoin.")
    if parsed["domain"] not in allowed_domains:
        raise _unauthenticated("domain_mismatch", f"The message is for {parsed['domain']}, not for this site.")
    networks = {name for name, caip in BIP122_CHAIN_IDS.items() if caip == parsed["chain_id"]} & allowed_networks
    if not networks:
        raise _unauthenticated("chain_not_allowed", f"Chain ID {parsed['chain_id']} is not accepted for sign-in.")
    if parsed["address"] != expected_address and parsed["address"].lower() != expected_address:
        raise _unauthenticated("address_mismatch", "The message was signed for another address.")
    if not bitcoin_network_of(expected_address) & networks:
        raise _unauthenticated("wrong_network", "The address belongs to another Bitcoin network than the message.")
    now = now or datetime.now(tz=UTC)
    expires = _rfc3339(parsed["expiration_time"], "Expiration Time")
    not_before = _rfc3339(parsed["not_before"], "Not Before")
    _rfc3339(parsed["issued_at"], "Issued At")
    if expires is None:
        raise _unauthenticated("invalid_message", "The message must say when it expires (Expiration Time).")
    if now >= expires:
        raise _unauthenticated("message_expired", "The sign-in message has expired.")
    if not_before is not None and now < not_before:
        raise _unauthenticated("message_not_yet_valid", "The sign-in message is not valid yet.")
    if not bitcoin_proof.verify_message(address=parsed["address"], message=message, signature=signature):
        raise _unauthenticated("invalid_signature", "The signature does not match the address.")
    return VerifiedMessage(address=expected_address, nonce=parsed["nonce"], chain_id=0, domain=parsed["domain"])
