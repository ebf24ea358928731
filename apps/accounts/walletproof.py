"""Proof that the caller controls a wallet.

EVM: an EIP-4361 (Sign-In with Ethereum) message signed with EIP-191 ``personal_sign``. The ``siwe`` package
parses the message against the ERC's ABNF; the signature is recovered over the exact text the wallet signed.
Starknet (SNIP-12) and Bitcoin (BIP-322) proofs come with issue 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import siwe
from eth_account import Account
from eth_account.messages import encode_defunct

from engipay.api.errors import InvalidInput, Unauthenticated

from .models import ChainKind


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


def require_supported(chain_kind: str) -> None:
    if chain_kind != ChainKind.EVM:
        raise InvalidInput(
            "wallet_type_not_supported",
            f"Sign-in with {chain_kind} wallets (SNIP-12 / BIP-322 proofs) is not supported yet; "
            "use an EVM wallet (metamask, walletconnect) or email.",
            {"chain_kind": chain_kind, "supported": [ChainKind.EVM.value]},
        )
