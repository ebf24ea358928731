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
FIELD_PRIME = 2**251 + 17 * 2**192 + 1
# The exact revision-1 types a sign-in message must declare: what is hashed is exactly what is checked.
DOMAIN_TYPE = [
    {"name": "name", "type": "shortstring"},
    {"name": "version", "type": "shortstring"},
    {"name": "chainId", "type": "shortstring"},
    {"name": "revision", "type": "shortstring"},
]
SIGN_IN_TYPE = [
    {"name": "domain", "type": "string"},
    {"name": "address", "type": "ContractAddress"},
    {"name": "nonce", "type": "shortstring"},
    {"name": "issuedAt", "type": "timestamp"},
    {"name": "expirationTime", "type": "timestamp"},
]
# JSON-RPC answers of an account contract that mean "no" (CONTRACT_ERROR, TRANSACTION_EXECUTION_ERROR,
# ENTRYPOINT_NOT_FOUND); CONTRACT_NOT_FOUND means "not deployed"; anything else is the node failing.
SAYS_NO = {21, 40, 41}
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


def sign_in_chains() -> list[StarknetChain]:
    """The Starknet networks sign-in messages may name: ``STARKNET_SIGN_IN_NETWORKS``, by default the first
    configured one. A wallet is one address on every network, so accepting a second network would let a key that
    was rotated out on one still sign in through the other."""
    configured = starknet_chains()
    wanted = settings.STARKNET_SIGN_IN_NETWORKS or [c.key for c in configured[:1]]
    return [c for c in configured if c.key in wanted]


def _int(value: Any, what: str) -> int:
    """A felt: an int or a decimal/hex string, 0 <= x < the field prime."""
    number = None
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and len(value) <= 80:
            number = int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        number = None
    if number is None or not 0 <= number < FIELD_PRIME:
        raise Unauthenticated("invalid_message", f"{what} is not a felt (a number below the field prime).")
    return number


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
    """The fields of the sign-in message (not the signature). Returns the message hash to verify.

    The typed data must declare exactly ``SIGN_IN_TYPE`` (revision 1) and carry exactly its fields: a signature
    covers only what the declared types hash, so any other shape could smuggle unsigned fields past these checks.
    """
    if not isinstance(typed, dict) or not isinstance(typed.get("message"), dict):
        raise Unauthenticated("invalid_message", "The message must be SNIP-12 typed data (a JSON object).")
    types, domain, message = typed.get("types"), typed.get("domain"), typed["message"]
    if (
        typed.get("primaryType") != "SignIn"
        or not isinstance(types, dict)
        or set(types) != {"StarknetDomain", "SignIn"}
        or types["StarknetDomain"] != DOMAIN_TYPE
        or types["SignIn"] != SIGN_IN_TYPE
        or not isinstance(domain, dict)
        or set(domain) != {"name", "version", "chainId", "revision"}
        or str(domain.get("revision")) != "1"
        or set(message) != {field["name"] for field in SIGN_IN_TYPE}
    ):
        raise Unauthenticated(
            "invalid_message",
            "The message must be SNIP-12 revision 1 typed data with primaryType SignIn and exactly the fields "
            "domain, address, nonce, issuedAt, expirationTime.",
        )
    if domain.get("name") != settings.SNIP12_DOMAIN_NAME:
        expected = settings.SNIP12_DOMAIN_NAME
        raise Unauthenticated("domain_mismatch", f"The typed data's domain name must be {expected!r}.")
    chain_felt = _felt_of_chain_id(domain.get("chainId"))
    chain = next((c for c in sign_in_chains() if c.chain_id == chain_felt), None)
    if chain is None:
        raise Unauthenticated("chain_not_allowed", f"Chain {domain.get('chainId')!r} is not accepted for sign-in.")
    if not isinstance(message["domain"], str) or message["domain"] not in allowed_domains:
        raise Unauthenticated("domain_mismatch", f"The message is for {message['domain']!r}, not for this site.")
    try:
        address = normalize_starknet(message["address"])
    except InvalidInput:
        raise Unauthenticated("invalid_message", "The message's address is not a Starknet address.") from None
    if address != expected_address:
        raise Unauthenticated("address_mismatch", "The message was signed for another address.")
    nonce = message["nonce"]
    if not isinstance(nonce, str) or not nonce:
        raise Unauthenticated("invalid_message", "The message has no nonce.")
    now_ts = (now or datetime.now(tz=UTC)).timestamp()
    if now_ts >= _int(message["expirationTime"], "expirationTime"):
        raise Unauthenticated("message_expired", "The sign-in message has expired.")
    if _int(message["issuedAt"], "issuedAt") > now_ts + CLOCK_SKEW_SECONDS:
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
            if exc.code == CONTRACT_NOT_FOUND:
                return None  # not deployed
            if exc.code in SAYS_NO:
                return False  # the account reverted or has no such entrypoint: not a valid signature
            raise  # rate limited, internal error, an HTTP failure: try the next URL
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
    """For an account not deployed yet: its address must follow from the deployment data, the class must be a
    known account class (``STARKNET_ACCOUNT_CLASSES``: class hash → where its owner key sits in the constructor
    calldata), and the signature must be that key's, as the wallet itself would check before deployment.
    Signatures: ``[r, s]``, or Argent's ``[1, 0, key, r, s]`` (one Starknet signer)."""
    if not isinstance(deployment, dict):
        return False
    calldata_in = deployment.get("constructor_calldata")
    if not isinstance(calldata_in, list) or len(calldata_in) > 16:
        return False
    try:
        class_hash = _int(deployment.get("class_hash"), "class_hash")
        salt = _int(deployment.get("salt"), "salt")
        calldata = [_int(x, "constructor_calldata") for x in calldata_in]
    except Unauthenticated:
        return False
    key_index = known_account_classes().get(class_hash)
    if key_index is None or key_index >= len(calldata):
        return False
    if compute_address(class_hash=class_hash, constructor_calldata=calldata, salt=salt) != int(account, 16):
        return False
    key = calldata[key_index]
    if len(signature) == 2:
        r, s = signature
    elif len(signature) == 5 and signature[0] == 1 and signature[1] == 0 and signature[2] == key:
        r, s = signature[3], signature[4]
    else:
        return False
    try:
        return verify_message_signature(message_hash, [r, s], key)
    except Exception:  # an out-of-range r/s is simply not a valid signature
        return False


def known_account_classes() -> dict[int, int]:
    return {int(class_hash, 16): int(index) for class_hash, index in settings.STARKNET_ACCOUNT_CLASSES.items()}
