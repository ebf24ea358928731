"""Sign-in proof for Starknet wallets (Argent, Braavos): a SNIP-12 typed-data message signed by the account.

The signature is checked by the account contract itself (SRC-6 ``is_valid_signature``, through starknet-py's
``FullNodeClient`` on the configured RPC URLs), so any account implementation works: multisig, guardians,
non-Stark keys. An account that is not deployed yet has no contract to ask; the wallet then sends its deployment
data (class hash, salt, constructor calldata), the address is recomputed from it, and the Stark signature is
checked against the owner key in the constructor calldata, as the wallets themselves do before deployment.

Expected typed data (revision 1; revision 0 with ``StarkNetDomain`` is accepted too)::

    {"types": {"StarknetDomain": [...name, version, chainId, revision...],
               "SignIn": [{"name": "domain", "type": "string"}, {"name": "address", "type": "ContractAddress"},
                          {"name": "nonce", "type": "shortstring"}, {"name": "issuedAt", "type": "timestamp"},
                          {"name": "expirationTime", "type": "timestamp"}]},
     "primaryType": "SignIn",
     "domain": {"name": "EngiPay", "version": "1", "chainId": "SN_MAIN", "revision": "1"},
     "message": {"domain": "app.engipay.io", "address": "0x…", "nonce": "<GET /api/auth/nonce>",
                 "issuedAt": 1764150000, "expirationTime": 1764150600}}
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from django.conf import settings
from starknet_py.hash.address import compute_address
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.utils import verify_message_signature
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Call
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.utils.typed_data import TypedData

from engipay.api.errors import ChainUnavailable, InvalidInput, Unauthenticated

from .addresses import normalize_starknet

logger = logging.getLogger(__name__)

IS_VALID_SIGNATURE = get_selector_from_name("is_valid_signature")
VALID = 0x56414C4944  # 'VALID' (SRC-6); some older accounts answer 1
CONTRACT_NOT_FOUND = 20
MAX_SIGNATURE_FELTS = 64
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class StarknetChain:
    key: str
    chain_id: int
    rpc_urls: tuple[str, ...]


def _felt_of_chain_id(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            return None
    try:
        return int.from_bytes(value.encode("ascii"), "big")
    except UnicodeError:
        return None


def starknet_chains() -> list[StarknetChain]:
    return [
        StarknetChain(key=key, chain_id=_felt_of_chain_id(cfg.get("chain_id")) or 0, rpc_urls=tuple(cfg["rpc_urls"]))
        for key, cfg in settings.CHAINS.items()
        if cfg.get("kind") == "starknet" and cfg.get("rpc_urls")
    ]


def _int(value: Any, what: str) -> int:
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        pass
    raise Unauthenticated("invalid_message", f"{what} is not a number.")


def parse_signature(signature: Any) -> list[int]:
    """A list of felts: a JSON array, or a comma-separated string of hex/decimal numbers."""
    if isinstance(signature, str):
        signature = [part.strip() for part in signature.strip("[] ").split(",") if part.strip()]
    if not isinstance(signature, list) or not 1 <= len(signature) <= MAX_SIGNATURE_FELTS:
        raise Unauthenticated("signature_required", "The signature must be a list of felts.")
    return [_int(part.strip('"') if isinstance(part, str) else part, "A signature felt") for part in signature]


@dataclass(frozen=True)
class VerifiedTypedData:
    address: str
    nonce: str
    chain_id: int
    domain: str
    message_hash: int


def check_typed_data(
    *, typed: Any, expected_address: str, allowed_domains: set[str], now: datetime | None = None
) -> tuple[VerifiedTypedData, StarknetChain]:
    """The fields of the sign-in message (not the signature). Returns the message hash to verify."""
    if not isinstance(typed, dict) or not isinstance(typed.get("message"), dict):
        raise Unauthenticated("invalid_message", "The message must be SNIP-12 typed data (a JSON object).")
    domain, message = typed.get("domain") or {}, typed["message"]
    if not isinstance(domain, dict) or domain.get("name") != settings.SNIP12_DOMAIN_NAME:
        expected = settings.SNIP12_DOMAIN_NAME
        raise Unauthenticated("domain_mismatch", f"The typed data's domain name must be {expected!r}.")
    chain_felt = _felt_of_chain_id(domain.get("chainId"))
    chain = next((c for c in starknet_chains() if c.chain_id == chain_felt), None)
    if chain is None:
        raise Unauthenticated("chain_not_allowed", f"Chain {domain.get('chainId')!r} is not accepted for sign-in.")
    if message.get("domain") not in allowed_domains:
        raise Unauthenticated("domain_mismatch", f"The message is for {message.get('domain')!r}, not for this site.")
    try:
        address = normalize_starknet(message.get("address"))
    except InvalidInput:
        raise Unauthenticated("invalid_message", "The message's address is not a Starknet address.") from None
    if address != expected_address:
        raise Unauthenticated("address_mismatch", "The message was signed for another address.")
    nonce = message.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise Unauthenticated("invalid_message", "The message has no nonce.")
    now_ts = (now or datetime.now(tz=UTC)).timestamp()
    if "expirationTime" not in message:
        raise Unauthenticated("invalid_message", "The message must say when it expires (expirationTime).")
    if now_ts >= _int(message["expirationTime"], "expirationTime"):
        raise Unauthenticated("message_expired", "The sign-in message has expired.")
    if "issuedAt" in message and _int(message["issuedAt"], "issuedAt") > now_ts + CLOCK_SKEW_SECONDS:
        raise Unauthenticated("message_not_yet_valid", "The sign-in message is dated in the future.")
    try:
        message_hash = TypedData.from_dict(typed).message_hash(int(address, 16))
    except Exception as exc:  # starknet-py raises several types on malformed typed data
        raise Unauthenticated("invalid_message", f"The typed data does not hash: {exc}"[:300]) from None
    return (
        VerifiedTypedData(
            address=address, nonce=nonce, chain_id=chain.chain_id, domain=message["domain"], message_hash=message_hash
        ),
        chain,
    )


async def _is_valid_signature(url: str, account: int, message_hash: int, signature: list[int]) -> bool | None:
    timeout = aiohttp.ClientTimeout(total=settings.CHAIN_RPC_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = FullNodeClient(node_url=url, session=session)
        client._client._is_spec_version_verified = True  # checked by /api/health/, not on every call
        call = Call(account, IS_VALID_SIGNATURE, [message_hash, len(signature), *signature])
        try:
            result = await client.call_contract(call, block_number="latest")
        except ClientError as exc:
            if not isinstance(exc.code, int):
                raise  # an HTTP failure: try the next URL
            return None if exc.code == CONTRACT_NOT_FOUND else False  # not deployed / the account said no
        return bool(result) and result[0] in (VALID, 1)


def account_says_valid(*, chain: StarknetChain, account: str, message_hash: int, signature: list[int]) -> bool | None:
    """The account contract's verdict; None when it is not deployed. 503 when no RPC URL answers."""
    last: BaseException | None = None
    for url in chain.rpc_urls:
        try:
            return asyncio.run(_is_valid_signature(url, int(account, 16), message_hash, signature))
        except (ClientError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            last = exc
    logger.warning("Starknet %s unreachable for a sign-in: %r", chain.key, last)
    raise ChainUnavailable("chain_unavailable", "The Starknet node did not answer; try again.", {"chain": chain.key})


def undeployed_says_valid(*, account: str, deployment: Any, message_hash: int, signature: list[int]) -> bool:
    """For an account not deployed yet: its address must follow from the deployment data, and the signature must
    be the owner key's (the key in the constructor calldata: OpenZeppelin/Braavos ``[key]``, Argent
    ``[0 (Starknet signer), key, …]``). Signatures: ``[r, s]`` or Argent's ``[1, 0, key, r, s]``."""
    if not isinstance(deployment, dict):
        return False
    try:
        class_hash = _int(deployment.get("class_hash"), "class_hash")
        salt = _int(deployment.get("salt"), "salt")
        calldata = [_int(x, "constructor_calldata") for x in deployment.get("constructor_calldata") or []]
    except Unauthenticated:
        return False
    if compute_address(class_hash=class_hash, constructor_calldata=calldata, salt=salt) != int(account, 16):
        return False
    keys = {calldata[0]} if calldata else set()
    if len(calldata) >= 2 and calldata[0] == 0:
        keys.add(calldata[1])
    if len(signature) == 2:
        r, s = signature
        candidates = keys
    elif len(signature) == 5 and signature[0] == 1 and signature[1] == 0:
        candidates, r, s = keys & {signature[2]}, signature[3], signature[4]
    else:
        return False
    for key in candidates:
        try:
            if verify_message_signature(message_hash, [r, s], key):
                return True
        except Exception:  # noqa: S112 (an out-of-range value is simply not a valid signature)
            continue
    return False
