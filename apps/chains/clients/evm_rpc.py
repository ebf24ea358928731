"""EVM details the transfer side of the EVM client needs: raw JSON-RPC, signed-transaction decoding, ERC-20 call
data, revert reasons. Pure functions plus one thin RPC wrapper over the client's transport (failover, retries,
503)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rlp
from eth_abi import decode, encode
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes

from engipay.api.errors import InvalidInput

if TYPE_CHECKING:
    from .evm import EvmClient

TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
PLAIN_TRANSFER_GAS = 21_000


class NodeError(Exception):
    """The node answered with a JSON-RPC error (it is up; it refused)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


def rpc(client: EvmClient, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call through the client (ChainUnavailable when no node answers); ``NodeError`` on refusal."""
    response = client.call(lambda w3: w3.provider.make_request(method, params))
    if response.get("error"):
        error = response["error"]
        raise NodeError(str(error.get("message", error)), error.get("code"), error.get("data"))
    return response.get("result")


def rpc_batch(client: EvmClient, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """Several calls in one HTTP round trip; a refused one raises ``NodeError``."""
    responses = client.call(lambda w3: w3.provider.make_batch_request(calls))
    if isinstance(responses, dict):  # the node refused the batch as a whole
        error = responses.get("error") or {}
        raise NodeError(str(error.get("message", responses)), error.get("code"))
    results = []
    for response in sorted(responses, key=lambda r: r["id"]):
        if response.get("error"):
            error = response["error"]
            raise NodeError(str(error.get("message", error)), error.get("code"), error.get("data"))
        results.append(response.get("result"))
    return results


def qty(value: str | int | None) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(value, 16)


def hex_qty(value: int) -> str:
    return hex(value)


# --- ERC-20 ----------------------------------------------------------------------------------------------


def erc20_transfer_data(to: str, amount: int) -> bytes:
    return TRANSFER + encode(["address", "uint256"], [to, amount])


def erc20_transfer_decode(data: bytes) -> tuple[str, int] | None:
    """(recipient, amount) of a ``transfer(address,uint256)`` call, or None if ``data`` is something else."""
    if len(data) != 4 + 64 or data[:4] != TRANSFER:
        return None
    to, amount = decode(["address", "uint256"], data[4:])
    return to_checksum_address(to), amount


# --- signed transactions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedTransaction:
    tx_hash: str
    sender: str
    chain_id: int | None
    nonce: int
    to: str | None
    value: int
    data: bytes
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int | None


def decode_signed(raw_hex: str) -> DecodedTransaction:
    """Decode and recover the sender of a signed transaction (legacy, EIP-2930 or EIP-1559)."""
    try:
        raw = HexBytes(raw_hex)
        sender = Account.recover_transaction(raw)
        if raw[0] <= 0x7F:
            fields = TypedTransaction.from_bytes(raw).as_dict()
            chain_id = fields["chainId"]
            max_fee = fields.get("maxFeePerGas", fields.get("gasPrice"))
            priority = fields.get("maxPriorityFeePerGas")
        else:
            legacy = rlp.decode(bytes(raw), LegacyTransaction)
            fields = legacy.as_dict()
            # EIP-155: v = chain_id * 2 + 35/36; 27/28 is a signature valid on every chain.
            chain_id = (fields["v"] - 35) // 2 if fields["v"] >= 35 else None
            max_fee, priority = fields["gasPrice"], None
    except Exception as exc:
        raise InvalidInput(
            "invalid_signed_transaction", "signed_transaction is not a signed EVM transaction.", {"reason": str(exc)}
        ) from None
    to = bytes(fields["to"])
    return DecodedTransaction(
        tx_hash="0x" + keccak(bytes(raw)).hex(),
        sender=sender,
        chain_id=chain_id,
        nonce=fields["nonce"],
        to=to_checksum_address(to) if to else None,
        value=fields["value"],
        data=bytes(fields["data"]),
        gas=fields["gas"],
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=priority,
    )


# --- revert reasons --------------------------------------------------------------------------------------

_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")
# ERC-6093 errors of OpenZeppelin's ERC-20 (v5), decoded into a readable reason.
_KNOWN_ERRORS = {
    function_signature_to_4byte_selector(f"{name}({','.join(types)})"): (name, types)
    for name, types in [
        ("ERC20InsufficientBalance", ["address", "uint256", "uint256"]),
        ("ERC20InvalidSender", ["address"]),
        ("ERC20InvalidReceiver", ["address"]),
        ("ERC20InsufficientAllowance", ["address", "uint256", "uint256"]),
        ("ERC20InvalidApprover", ["address"]),
        ("ERC20InvalidSpender", ["address"]),
    ]
}


def revert_reason(data: bytes) -> str:
    """A person-readable reason from revert data (``Error(string)``, ``Panic(uint256)``, known custom errors)."""
    if not data:
        return "execution reverted (no reason given)"
    selector, body = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return decode(["string"], body)[0]
        if selector == _PANIC:
            return f"panic 0x{decode(['uint256'], body)[0]:02x}"
        if selector in _KNOWN_ERRORS:
            name, types = _KNOWN_ERRORS[selector]
            values = decode(types, body)
            shown = (to_checksum_address(v) if t == "address" else str(v) for t, v in zip(types, values, strict=True))
            return f"{name}({', '.join(shown)})"
    except Exception:  # noqa: S110 (undecodable data falls through to the raw selector)
        pass
    return f"execution reverted (custom error 0x{data.hex()})"


def revert_data(error: NodeError) -> bytes:
    """The revert payload of an eth_call error: ``data`` is a hex string, or an object holding one."""
    data = error.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes(HexBytes(data))
        except ValueError:
            return b""
    return b""
