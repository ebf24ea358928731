"""The EngiPayEscrow contract as Python sees it: its committed artifact, calldata for each function, its events
decoded from raw logs, and reads of one escrow's on-chain state. Encoding is eth-abi against the artifact's ABI,
so a change of the Solidity source shows up here through the artifact only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from apps.chains.clients.evm import EvmClient
from apps.chains.models import NATIVE_ADDRESS
from apps.chains.solidity import artifact

ESCROW_CONTRACTS = Path(__file__).parent / "contracts"
CONTRACT_NAME = "EngiPayEscrow"
# The contract's DISPUTE_TIMEOUT: after expiry + this, an undecided dispute may be settled (refund) by anyone.
DISPUTE_TIMEOUT_SECONDS = 30 * 24 * 3600
# The contract's State enum, in order.
STATES = ("none", "pending", "accepted", "rejected", "cancelled", "expired", "disputed", "resolved")
# Event name → EscrowEvent.Name.
EVENT_NAMES = {
    "EscrowCreated": "created",
    "EscrowAccepted": "accepted",
    "EscrowRejected": "rejected",
    "EscrowCancelled": "cancelled",
    "EscrowExpired": "expired",
    "EscrowDisputed": "disputed",
    "EscrowResolved": "resolved",
}
ERC20_APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")
ERC20_ALLOWANCE = function_signature_to_4byte_selector("allowance(address,address)")


def escrow_artifact() -> dict[str, Any]:
    return artifact(CONTRACT_NAME, ESCROW_CONTRACTS / "artifacts")


def _type(entry: dict[str, Any]) -> str:
    if entry["type"] == "tuple":
        return "(" + ",".join(_type(c) for c in entry["components"]) + ")"
    return entry["type"]


@cache
def _functions() -> dict[str, tuple[bytes, list[str]]]:
    """name → (selector, argument types)."""
    found = {}
    for entry in escrow_artifact()["abi"]:
        if entry["type"] == "function":
            types = [_type(i) for i in entry["inputs"]]
            found[entry["name"]] = (function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})"), types)
    return found


def calldata(function: str, *args: Any) -> bytes:
    selector, types = _functions()[function]
    return selector + encode(types, list(args))


def hex_data(data: bytes) -> str:
    return "0x" + data.hex()


def escrow_id(sender: str, salt: bytes) -> str:
    """The id the contract gives the escrow ``salt`` of ``sender``: keccak256(abi.encode(sender, salt))."""
    return "0x" + keccak(encode(["address", "bytes32"], [sender, salt])).hex()


def memo_hash(memo: str) -> str:
    return "0x" + keccak(text=memo).hex()


def approve_data(spender: str, amount: int) -> bytes:
    return ERC20_APPROVE + encode(["address", "uint256"], [spender, amount])


def id_bytes(onchain_id: str) -> bytes:
    return bytes.fromhex(onchain_id.removeprefix("0x"))


# --- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    name: str  # EscrowEvent.Name value
    indexed: list[tuple[str, str]]  # (argument, type) after the escrow id
    data: list[tuple[str, str]]


@cache
def event_specs() -> dict[str, EventSpec]:
    """topic0 (0x hex) → how to decode the event. Every event's first indexed argument is the escrow id."""
    specs = {}
    for entry in escrow_artifact()["abi"]:
        if entry["type"] != "event" or entry["name"] not in EVENT_NAMES:
            continue
        signature = f"{entry['name']}({','.join(_type(i) for i in entry['inputs'])})"
        indexed = [(i["name"], _type(i)) for i in entry["inputs"] if i["indexed"]]
        data = [(i["name"], _type(i)) for i in entry["inputs"] if not i["indexed"]]
        assert indexed[0] == ("id", "bytes32"), entry  # noqa: S101 - a contract change must fail loudly
        specs["0x" + keccak(text=signature).hex()] = EventSpec(EVENT_NAMES[entry["name"]], indexed[1:], data)
    return specs


PAYMENT_DEFERRED = "0x" + keccak(text="PaymentDeferred(address,address,uint256)").hex()


def deferred_decode(topics: list[str], data: str) -> dict[str, str] | None:
    """A ``PaymentDeferred(to, token, amount)`` log (a payout the receiver could not take, kept for it to
    ``withdraw``) as {to, token, amount}; None for any other log."""
    if not topics or topics[0].lower() != PAYMENT_DEFERRED or len(topics) != 3:
        return None
    to, token = (checksum("0x" + topic[-40:]) for topic in topics[1:3])
    return {"to": to, "token": token, "amount": str(int(data, 16))}


@dataclass(frozen=True)
class DecodedEvent:
    name: str
    onchain_id: str
    args: dict[str, Any]  # addresses checksummed, integers as int, bytes32 as 0x hex, bools


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 spelling (cached: the indexer meets the same few addresses in thousands of logs)."""
    return to_checksum_address(address)


def _plain(kind: str, value: Any) -> Any:
    if kind == "address":
        return checksum(value)
    if kind == "bytes32":
        return "0x" + value.hex()
    return value


def decode_log(topics: list[str], data: str) -> DecodedEvent | None:
    """One raw log of the contract (JSON-RPC hex strings); None for an event this code does not know."""
    spec = event_specs().get(topics[0].lower()) if topics else None
    if spec is None:
        return None
    args: dict[str, Any] = {}
    for (name, kind), topic in zip(spec.indexed, topics[2:], strict=True):
        args[name] = _plain(kind, decode([kind], bytes.fromhex(topic[2:]))[0])
    values = decode([kind for _, kind in spec.data], bytes.fromhex(data[2:])) if spec.data else ()
    for (name, kind), value in zip(spec.data, values, strict=True):
        args[name] = _plain(kind, value)
    return DecodedEvent(name=spec.name, onchain_id=topics[1].lower(), args=args)


# --- reads -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnchainEscrow:
    state: str  # one of STATES
    sender: str
    recipient: str
    token: str  # the zero address for ETH
    resolver: str  # the zero address: none
    amount: int
    expires_at: int  # unix seconds
    memo_hash: str
    require_confirmation: bool


def escrow_read(client: EvmClient, *, contract: str, onchain_id: str, block: str | int = "latest") -> OnchainEscrow:
    """The escrow as the contract holds it now (``state`` "none" if it does not exist)."""
    raw = client.eth_call(contract, calldata("getEscrow", id_bytes(onchain_id)), block)
    ((sender, expires_at, state, confirm, recipient, token, resolver, amount, memo),) = decode(
        ["(address,uint64,uint8,bool,address,address,address,uint256,bytes32)"], raw
    )
    return OnchainEscrow(
        state=STATES[state],
        sender=to_checksum_address(sender),
        recipient=to_checksum_address(recipient),
        token=to_checksum_address(token),
        resolver=to_checksum_address(resolver),
        amount=amount,
        expires_at=expires_at,
        memo_hash="0x" + memo.hex(),
        require_confirmation=confirm,
    )


def owed_read(client: EvmClient, *, contract: str, owner: str, token: str) -> int:
    """A payout kept for ``owner`` because it could not take it (``owed(owner, token)``)."""
    raw = client.eth_call(contract, calldata("owed", owner, token))
    return decode(["uint256"], raw)[0]


def allowance_read(client: EvmClient, *, token: str, owner: str, spender: str) -> int:
    raw = client.eth_call(token, ERC20_ALLOWANCE + encode(["address", "address"], [owner, spender]))
    return decode(["uint256"], raw)[0] if len(raw) == 32 else 0


def is_native(token_address: str) -> bool:
    return token_address.lower() == NATIVE_ADDRESS


# --- custom errors -------------------------------------------------------------------------------------------


@cache
def _errors() -> dict[bytes, tuple[str, list[tuple[str, str]]]]:
    found = {}
    for entry in escrow_artifact()["abi"]:
        if entry["type"] == "error":
            types = [_type(i) for i in entry["inputs"]]
            selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
            found[selector] = (entry["name"], [(i["name"], _type(i)) for i in entry["inputs"]])
    return found


@dataclass(frozen=True)
class ContractError:
    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        shown = ", ".join(f"{key}={value}" for key, value in self.args.items())
        return f"{self.name}({shown})"


def error_decode(data: bytes) -> ContractError | None:
    """The contract's custom error in revert data (``State`` arguments by name); None if it is not one."""
    known = _errors().get(bytes(data[:4]))
    if known is None:
        return None
    name, inputs = known
    try:
        values = decode([kind for _, kind in inputs], bytes(data[4:]))
    except Exception:
        return None
    args = {}
    for (arg, kind), value in zip(inputs, values, strict=True):
        args[arg] = STATES[value] if arg == "state" and kind == "uint8" else _plain(kind, value)
    return ContractError(name, args)
