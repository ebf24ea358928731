"""A local Starknet JSON-RPC v0.10.2 node double with real state, for tests and as an opt-in frontend sandbox.

It is NOT a Starknet node: there is no Cairo VM. It keeps real state (ERC-20 balances/allowances at the mainnet token
addresses, OpenZeppelin-style accounts with a Stark public key and a nonce, blocks, a mempool) and speaks the official
wire protocol, so starknet-py's ``FullNodeClient``/``Account`` talk to it unpatched:

* transactions are INVOKE v3 only; their hash is computed with starknet-py's own v3 hash for the double's chain id and
  the ECDSA signature is checked against the account's stored public key (a tx signed for another chain fails);
* ``__execute__`` calldata is decoded in the Cairo 1 account multicall format and ERC-20 ``transfer``/``approve``/
  ``transfer_from`` run against the token state; a failing call reverts the whole tx (fee still charged);
* fee model (deterministic, FRI, charged in STRK when the block closes), see ``GAS_PRICES``/``gas_consumed``;
* every response can be validated against the vendored spec (``strict=True``; see ``starknet_spec``).

Non-spec control methods (``devnet_*``, like starknet-devnet) drive it over HTTP: ``devnet_createBlock``,
``devnet_acceptOnL1``, ``devnet_mint``, ``devnet_deployAccount``.

Sandbox: ``python -m tests.doubles.starknet_rpc --port 5050 --block-seconds 3 --l1-after-blocks 4 --accounts 3``.
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from poseidon_py.poseidon_hash import poseidon_hash_many
from starknet_py.cairo.felt import encode_shortstring
from starknet_py.hash.address import compute_address
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.storage import get_storage_var_address
from starknet_py.hash.transaction import (
    CommonTransactionV3Fields,
    TransactionHashPrefix,
    compute_invoke_v3_transaction_hash,
)
from starknet_py.hash.utils import pedersen_hash, verify_message_signature
from starknet_py.net.client_models import DAMode, ResourceBounds, ResourceBoundsMapping
from starknet_py.net.signer.key_pair import KeyPair

from tests.doubles import starknet_spec

SN_MAIN = "0x534e5f4d41494e"
SN_SEPOLIA = "0x534e5f5345504f4c4941"
STARKNET_VERSION = "0.14.1"

# Class hash of the OpenZeppelin Cairo 1 account (v0.8.1) that starknet-devnet predeploys and many wallets/tools use
# (0x061dac03...). Accounts are deployed at compute_address(class_hash, salt=public_key, [public_key], deployer=0).
ACCOUNT_CLASS_HASH = 0x061DAC032F228ABEF9C6626F995015233097AE253A7F72D68552DB02F2971B8F
# Synthetic class hash for the ERC-20 contracts (starknet_keccak("EngiPay test double ERC20")): not a real class.
ERC20_CLASS_HASH = get_selector_from_name("EngiPay test double ERC20")
# The Starknet mainnet sequencer address (fee recipient in real receipts' fee Transfer events).
SEQUENCER_ADDRESS = 0x01176A1BD84444C89232EC27754698E5D2E7E1A7F1539F12027F28B23EC9F3D8

# symbol -> (mainnet L2 address, name, decimals); source: starknet-io/starknet-addresses bridged_tokens/mainnet.json.
TOKENS: dict[str, tuple[int, str, int]] = {
    "ETH": (0x049D36570D4E46F48E99674BD3FCC84644DDD6B96F7C741B1562B82F9E004DC7, "Ether", 18),
    "STRK": (0x04718F5A0FC34CC1AF16A1CDEE98FFB20C31F5CD61D6AB07201858F4287C938D, "Starknet Token", 18),
    "USDC": (0x053C91253BC9682C04929CA02ED00B3E423F6710D2EE7E0D5EBB06F3ECF368A8, "USD Coin", 6),
    "USDT": (0x068F5C6A61780768455DE69077E07E89787839BF8166DECFBF92B645209C0FB8, "Tether USD", 6),
    "WBTC": (0x03FE2B97C1FD336E750087D68B9B867997FD64A2661FF3CA5A7C771641E8E7AC, "Wrapped BTC", 8),
}
FEE_TOKEN = "STRK"

# Gas model: fixed prices; consumption depends on the number of calls in the multicall only.
GAS_PRICES = {  # resource -> (price_in_wei, price_in_fri)
    "l1_gas": (10_000_000_000, 40_000_000_000_000),
    "l1_data_gas": (1_000, 60_000),
    "l2_gas": (2_000_000, 8_000_000_000),
}
L2_GAS_BASE, L2_GAS_PER_CALL = 600_000, 400_000
L1_DATA_GAS_BASE, L1_DATA_GAS_PER_CALL = 128, 64


def gas_consumed(n_calls: int) -> dict[str, int]:
    return {
        "l1_gas": 0,
        "l1_data_gas": L1_DATA_GAS_BASE + L1_DATA_GAS_PER_CALL * n_calls,
        "l2_gas": L2_GAS_BASE + L2_GAS_PER_CALL * n_calls,
    }


def fee_of(consumed: dict[str, int]) -> int:
    return sum(amount * GAS_PRICES[resource][1] for resource, amount in consumed.items())


VALID = encode_shortstring("VALID")  # 0x56414c4944
QUERY_VERSION_BASE = 2**128
SRC5_ID = 0x3F918D17E5EE77373B56385708F855659A07F75997F365CF87748628532A055
SRC6_ID = 0x2CECCEF7F994940B3962A6C67E0BA4FCD37DF7D131417C604F91E03CAECC1CD
U128 = 2**128

SEL = {
    name: get_selector_from_name(name)
    for name in (
        "__execute__",
        "__validate__",
        "Transfer",
        "Approval",
        "transfer",
        "transfer_from",
        "transferFrom",
        "approve",
        "balance_of",
        "balanceOf",
        "allowance",
        "decimals",
        "symbol",
        "name",
        "total_supply",
        "totalSupply",
        "is_valid_signature",
        "isValidSignature",
        "get_public_key",
        "getPublicKey",
        "supports_interface",
    )
}
ERC20_EXTERNAL = [
    "transfer",
    "transfer_from",
    "transferFrom",
    "approve",
    "balance_of",
    "balanceOf",
    "allowance",
    "decimals",
    "symbol",
    "name",
    "total_supply",
    "totalSupply",
]
ACCOUNT_EXTERNAL = [
    "__execute__",
    "__validate__",
    "is_valid_signature",
    "isValidSignature",
    "get_public_key",
    "getPublicKey",
    "supports_interface",
]


def felt(value: int) -> str:
    return hex(value)


def parse_int(value: Any) -> int:
    """An int from an int, a 0x-hex string or a decimal string (control methods are lenient)."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    raise TypeError(f"not a number: {value!r}")


def _ascii(text: str) -> str:
    return "0x" + text.encode().hex()


# --- errors -----------------------------------------------------------------------------------------------


class RpcError(Exception):
    NO_DATA = object()

    def __init__(self, code: int, message: str, data: Any = NO_DATA):
        super().__init__(f"{code} {message}")
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.data is not RpcError.NO_DATA:
            out["data"] = self.data
        return out


def _spec_errors() -> dict[str, tuple[int, str]]:
    out = {}
    for doc in starknet_spec.documents().values():
        for name, error in doc["components"].get("errors", {}).items():
            out[name] = (error["code"], error["message"])
    return out


SPEC_ERRORS = _spec_errors()


def spec_error(name: str, data: Any = RpcError.NO_DATA) -> RpcError:
    code, message = SPEC_ERRORS[name]
    return RpcError(code, message, data)


def invalid_params(detail: str) -> RpcError:
    return RpcError(-32602, "Invalid params", detail)


class Revert(Exception):
    """A failing contract call: ``structured`` is a CONTRACT_EXECUTION_ERROR, ``text`` a node-style revert reason."""

    def __init__(self, structured: Any, text: str):
        super().__init__(text)
        self.structured, self.text = structured, text


def _failure(address: int, class_hash: int, selector: int, message: str) -> Revert:
    encoded = f"{_ascii(message)} ('{message}')" if len(message) <= 31 else message
    structured = {
        "contract_address": felt(address),
        "class_hash": felt(class_hash),
        "selector": felt(selector),
        "error": encoded,
    }
    text = (
        f"Error in contract (contract address: 0x{address:064x}, class hash: 0x{class_hash:064x}, "
        f"selector: 0x{selector:064x}):\n{encoded}.\n"
    )
    return Revert(structured, text)


def _wrap_in_execute(inner: Revert, account: int) -> Revert:
    structured = {
        "contract_address": felt(account),
        "class_hash": felt(ACCOUNT_CLASS_HASH),
        "selector": felt(SEL["__execute__"]),
        "error": inner.structured,
    }
    text = (
        "Transaction execution has failed:\n"
        f"0: Error in the called contract (contract address: 0x{account:064x}, class hash: "
        f"0x{ACCOUNT_CLASS_HASH:064x}, selector: 0x{SEL['__execute__']:064x}):\n"
        f"Execution failed. Failure reason:\n{inner.text}"
    )
    return Revert(structured, text)


# --- state ------------------------------------------------------------------------------------------------


@dataclass
class State:
    class_hashes: dict[int, int] = field(default_factory=dict)  # address -> class hash (deployed contracts)
    nonces: dict[int, int] = field(default_factory=dict)
    public_keys: dict[int, int] = field(default_factory=dict)  # account address -> Stark public key
    balances: dict[int, dict[int, int]] = field(default_factory=dict)  # token -> owner -> amount
    allowances: dict[int, dict[tuple[int, int], int]] = field(default_factory=dict)  # token -> (owner, spender)
    supply: dict[int, int] = field(default_factory=dict)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def is_account(self, address: int) -> bool:
        return self.class_hashes.get(address) == ACCOUNT_CLASS_HASH

    def is_token(self, address: int) -> bool:
        return self.class_hashes.get(address) == ERC20_CLASS_HASH

    def storage(self, address: int, key: int) -> int:
        """Storage slots as the OpenZeppelin components lay them out (balances, supply, allowances, public key)."""
        if self.is_token(address):
            if key == get_storage_var_address("ERC20_total_supply"):
                return self.supply[address] % U128
            if key == get_storage_var_address("ERC20_total_supply") + 1:
                return self.supply[address] // U128
            base = get_storage_var_address("ERC20_balances")
            for owner, amount in self.balances[address].items():
                slot = pedersen_hash(base, owner)
                if key in (slot, slot + 1):
                    return amount % U128 if key == slot else amount // U128
            base = get_storage_var_address("ERC20_allowances")
            for (owner, spender), amount in self.allowances[address].items():
                slot = pedersen_hash(pedersen_hash(base, owner), spender)
                if key in (slot, slot + 1):
                    return amount % U128 if key == slot else amount // U128
        if self.is_account(address) and key == get_storage_var_address("Account_public_key"):
            return self.public_keys[address]
        return 0


@dataclass
class Block:
    number: int
    hash: int
    parent_hash: int
    timestamp: int
    status: str  # ACCEPTED_ON_L2 | ACCEPTED_ON_L1
    tx_hashes: list[int]
    state: State  # state after the block
    state_diff_length: int = 0


@dataclass
class Tx:
    hash: int
    body: dict  # INVOKE_TXN_V3 fields, canonical hex
    sender: int
    nonce: int
    calldata: list[int]
    tip: int
    block_number: int | None = None
    index: int | None = None
    execution_status: str | None = None
    revert_reason: str | None = None
    fee: int = 0
    events: list[dict] = field(default_factory=list)
    resources: dict[str, int] = field(default_factory=dict)


def decode_multicall(calldata: list[int]) -> list[tuple[int, int, list[int]]]:
    """Cairo 1 account ``__execute__(calls: Array<Call>)``: [n, (to, selector, len, *data)*]."""
    if not calldata:
        raise ValueError("empty calldata")
    n, pos, calls = calldata[0], 1, []
    for _ in range(n):
        if pos + 3 > len(calldata):
            raise ValueError("truncated call")
        to, selector, length = calldata[pos : pos + 3]
        pos += 3
        if pos + length > len(calldata):
            raise ValueError("truncated call data")
        calls.append((to, selector, calldata[pos : pos + length]))
        pos += length
    if pos != len(calldata):
        raise ValueError("trailing calldata")
    return calls


def _n_calls(calldata: list[int]) -> int:
    try:
        return len(decode_multicall(calldata))
    except ValueError:
        return 0


def _u256(args: list[int], index: int) -> int:
    low, high = args[index], args[index + 1]
    if low >= U128 or high >= U128:
        raise ValueError(f"Failed to deserialize param #{index + 1}")
    return low + (high << 128)


def _transfer_event(token: int, sender: int, recipient: int, amount: int) -> dict:
    return {
        "from_address": felt(token),
        "keys": [felt(SEL["Transfer"]), felt(sender), felt(recipient)],
        "data": [felt(amount % U128), felt(amount // U128)],
    }


def _approval_event(token: int, owner: int, spender: int, amount: int) -> dict:
    return {
        "from_address": felt(token),
        "keys": [felt(SEL["Approval"]), felt(owner), felt(spender)],
        "data": [felt(amount % U128), felt(amount // U128)],
    }


def _symbol_of(token: int) -> str:
    return next(symbol for symbol, (address, _, _) in TOKENS.items() if address == token)


def erc20_entry(state: State, token: int, caller: int, selector: int, args: list[int], events: list[dict]) -> list[int]:
    """Run one ERC-20 entrypoint on ``state`` (mutating it). Raises Revert or KeyError (unknown selector)."""
    symbol = _symbol_of(token)
    _, name, decimals = TOKENS[symbol]
    balances, allowances = state.balances[token], state.allowances[token]
    arity = {
        SEL["transfer"]: 3,
        SEL["transfer_from"]: 4,
        SEL["transferFrom"]: 4,
        SEL["approve"]: 3,
        SEL["balance_of"]: 1,
        SEL["balanceOf"]: 1,
        SEL["allowance"]: 2,
        SEL["decimals"]: 0,
        SEL["symbol"]: 0,
        SEL["name"]: 0,
        SEL["total_supply"]: 0,
        SEL["totalSupply"]: 0,
    }
    if selector not in arity:
        raise KeyError(selector)
    if len(args) != arity[selector]:
        index = min(len(args), arity[selector]) + 1
        raise _failure(token, ERC20_CLASS_HASH, selector, f"Failed to deserialize param #{index}")

    def fail(message: str) -> Revert:
        return _failure(token, ERC20_CLASS_HASH, selector, message)

    def move(sender: int, recipient: int, amount: int) -> None:
        if sender == 0:
            raise fail("ERC20: transfer from 0")
        if recipient == 0:
            raise fail("ERC20: transfer to 0")
        if balances.get(sender, 0) < amount:
            raise fail("ERC20: insufficient balance")
        balances[sender] = balances.get(sender, 0) - amount
        balances[recipient] = balances.get(recipient, 0) + amount
        events.append(_transfer_event(token, sender, recipient, amount))

    try:
        if selector == SEL["transfer"]:
            move(caller, args[0], _u256(args, 1))
            return [1]
        if selector in (SEL["transfer_from"], SEL["transferFrom"]):
            owner, recipient, amount = args[0], args[1], _u256(args, 2)
            current = allowances.get((owner, caller), 0)
            if current < amount:
                raise fail("ERC20: insufficient allowance")
            if current != 2**256 - 1:
                allowances[(owner, caller)] = current - amount
            move(owner, recipient, amount)
            return [1]
        if selector == SEL["approve"]:
            if caller == 0:
                raise fail("ERC20: approve from 0")
            if args[0] == 0:
                raise fail("ERC20: approve to 0")
            amount = _u256(args, 1)
            allowances[(caller, args[0])] = amount
            events.append(_approval_event(token, caller, args[0], amount))
            return [1]
    except ValueError as exc:
        raise fail(str(exc)) from None
    if selector in (SEL["balance_of"], SEL["balanceOf"]):
        amount = balances.get(args[0], 0)
        return [amount % U128, amount // U128]
    if selector == SEL["allowance"]:
        amount = allowances.get((args[0], args[1]), 0)
        return [amount % U128, amount // U128]
    if selector == SEL["decimals"]:
        return [decimals]
    if selector == SEL["symbol"]:
        return [encode_shortstring(symbol)]
    if selector == SEL["name"]:
        return [encode_shortstring(name)]
    supply = state.supply[token]
    return [supply % U128, supply // U128]


def check_signature(public_key: int, message_hash: int, signature: list[int]) -> bool:
    if len(signature) != 2 or not all(0 < part < 2**251 for part in signature):
        return False
    try:
        return bool(verify_message_signature(message_hash, signature, public_key))
    except Exception:
        return False


def account_view(state: State, account: int, selector: int, args: list[int]) -> list[int]:
    if selector in (SEL["is_valid_signature"], SEL["isValidSignature"]):
        if len(args) < 2 or args[1] != len(args) - 2:
            raise _failure(account, ACCOUNT_CLASS_HASH, selector, "Failed to deserialize param #2")
        valid = check_signature(state.public_keys[account], args[0], args[2:])
        return [VALID if valid else 0]
    if selector in (SEL["get_public_key"], SEL["getPublicKey"]):
        return [state.public_keys[account]]
    if selector == SEL["supports_interface"]:
        if len(args) != 1:
            raise _failure(account, ACCOUNT_CLASS_HASH, selector, "Failed to deserialize param #1")
        return [1 if args[0] in (SRC5_ID, SRC6_ID) else 0]
    raise KeyError(selector)


def invoke_v3_hash(body: dict, chain_id: int) -> int:
    """The v3 INVOKE hash exactly as starknet-py computes it (``InvokeV3.calculate_hash``), honouring every field."""
    bounds = body["resource_bounds"]

    def rb(name: str) -> ResourceBounds:
        return ResourceBounds(int(bounds[name]["max_amount"], 16), int(bounds[name]["max_price_per_unit"], 16))

    common = CommonTransactionV3Fields(
        tx_prefix=TransactionHashPrefix.INVOKE,
        version=int(body["version"], 16),
        address=int(body["sender_address"], 16),
        tip=int(body["tip"], 16),
        resource_bounds=ResourceBoundsMapping(l1_gas=rb("l1_gas"), l1_data_gas=rb("l1_data_gas"), l2_gas=rb("l2_gas")),
        paymaster_data=[int(x, 16) for x in body["paymaster_data"]],
        chain_id=chain_id,
        nonce=int(body["nonce"], 16),
        nonce_data_availability_mode=DAMode[body["nonce_data_availability_mode"]],
        fee_data_availability_mode=DAMode[body["fee_data_availability_mode"]],
    )
    return compute_invoke_v3_transaction_hash(
        account_deployment_data=[int(x, 16) for x in body["account_deployment_data"]],
        calldata=[int(x, 16) for x in body["calldata"]],
        common_fields=common,
        proof_facts=[int(x, 16) for x in body.get("proof_facts") or []] or None,
    )


def _canonical_invoke(body: dict) -> dict:
    """The INVOKE_TXN_V3 part of a BROADCASTED_INVOKE_TXN, felts in canonical hex."""

    def h(value: str) -> str:
        return felt(int(value, 16))

    bounds = body["resource_bounds"]
    return {
        "type": "INVOKE",
        "sender_address": h(body["sender_address"]),
        "calldata": [h(x) for x in body["calldata"]],
        "version": body["version"],
        "signature": [h(x) for x in body["signature"]],
        "nonce": h(body["nonce"]),
        "resource_bounds": {
            name: {
                "max_amount": h(bounds[name]["max_amount"]),
                "max_price_per_unit": h(bounds[name]["max_price_per_unit"]),
            }
            for name in ("l1_gas", "l1_data_gas", "l2_gas")
        },
        "tip": h(body["tip"]),
        "paymaster_data": [h(x) for x in body["paymaster_data"]],
        "account_deployment_data": [h(x) for x in body["account_deployment_data"]],
        "nonce_data_availability_mode": body["nonce_data_availability_mode"],
        "fee_data_availability_mode": body["fee_data_availability_mode"],
        "proof_facts": [h(x) for x in body.get("proof_facts") or []],
    }


def _abi(kind: str) -> str:
    felt_t, address_t, u256_t = (
        "core::felt252",
        "core::starknet::contract_address::ContractAddress",
        "core::integer::u256",
    )
    items: list[dict] = [
        {
            "type": "struct",
            "name": u256_t,
            "members": [
                {"name": "low", "type": "core::integer::u128"},
                {"name": "high", "type": "core::integer::u128"},
            ],
        }
    ]

    def fn(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> dict:
        return {
            "type": "function",
            "name": name,
            "inputs": [{"name": n, "type": t} for n, t in inputs],
            "outputs": [{"type": t} for t in outputs],
            "state_mutability": mutability,
        }

    if kind == "erc20":
        constructor = [("name", felt_t), ("symbol", felt_t), ("decimals", "core::integer::u8")]
        items.append(
            {"type": "constructor", "name": "constructor", "inputs": [{"name": n, "type": t} for n, t in constructor]}
        )
        items += [
            fn("name", [], [felt_t], "view"),
            fn("symbol", [], [felt_t], "view"),
            fn("decimals", [], ["core::integer::u8"], "view"),
            fn("total_supply", [], [u256_t], "view"),
            fn("totalSupply", [], [u256_t], "view"),
            fn("balance_of", [("account", address_t)], [u256_t], "view"),
            fn("balanceOf", [("account", address_t)], [u256_t], "view"),
            fn("allowance", [("owner", address_t), ("spender", address_t)], [u256_t], "view"),
            fn("transfer", [("recipient", address_t), ("amount", u256_t)], ["core::bool"], "external"),
            fn(
                "transfer_from",
                [("sender", address_t), ("recipient", address_t), ("amount", u256_t)],
                ["core::bool"],
                "external",
            ),
            fn("approve", [("spender", address_t), ("amount", u256_t)], ["core::bool"], "external"),
        ]
    else:
        items.append({"type": "constructor", "name": "constructor", "inputs": [{"name": "public_key", "type": felt_t}]})
        items += [
            fn(
                "is_valid_signature",
                [("hash", felt_t), ("signature", "core::array::Array::<core::felt252>")],
                [felt_t],
                "view",
            ),
            fn("get_public_key", [], [felt_t], "view"),
            fn("supports_interface", [("interface_id", felt_t)], ["core::bool"], "view"),
        ]
    bool_enum = {
        "type": "enum",
        "name": "core::bool",
        "variants": [{"name": "False", "type": "()"}, {"name": "True", "type": "()"}],
    }
    return json.dumps([bool_enum, *items])


def _contract_class(class_hash: int) -> dict:
    names = ERC20_EXTERNAL if class_hash == ERC20_CLASS_HASH else ACCOUNT_EXTERNAL
    selectors = sorted(get_selector_from_name(name) for name in names)
    return {
        "sierra_program": [felt(1)],  # placeholder: the double has no Cairo VM
        "contract_class_version": "0.1.0",
        "entry_points_by_type": {
            "CONSTRUCTOR": [{"selector": felt(get_selector_from_name("constructor")), "function_idx": 0}],
            "EXTERNAL": [{"selector": felt(s), "function_idx": i + 1} for i, s in enumerate(selectors)],
            "L1_HANDLER": [],
        },
        "abi": _abi("erc20" if class_hash == ERC20_CLASS_HASH else "account"),
    }


# --- the node ---------------------------------------------------------------------------------------------


class StarknetNode:
    """State and method implementations (no HTTP)."""

    def __init__(self, chain_id: str = SN_SEPOLIA, l1_after_blocks: int | None = None):
        self.chain_id = felt(int(chain_id, 16))
        self.chain_id_int = int(chain_id, 16)
        self.l1_after_blocks = l1_after_blocks
        self.lock = threading.RLock()
        self.state = State()
        for address, _, _ in TOKENS.values():
            self.state.class_hashes[address] = ERC20_CLASS_HASH
            self.state.nonces[address] = 0
            self.state.balances[address] = {}
            self.state.allowances[address] = {}
            self.state.supply[address] = 0
        self.pool: list[Tx] = []
        self.txs: dict[int, Tx] = {}
        genesis_hash = poseidon_hash_many([encode_shortstring("GENESIS"), self.chain_id_int])
        self.blocks: list[Block] = [
            Block(0, genesis_hash, 0, int(time.time()), "ACCEPTED_ON_L1", [], self.state.copy())
        ]
        self.blocks_by_hash = {genesis_hash: self.blocks[0]}

    # -- control (Python API and devnet_*) --

    def deploy_account(self, public_key: int) -> int:
        address = compute_address(
            class_hash=ACCOUNT_CLASS_HASH, constructor_calldata=[public_key], salt=public_key, deployer_address=0
        )
        with self.lock:
            self.state.class_hashes[address] = ACCOUNT_CLASS_HASH
            self.state.public_keys[address] = public_key
            self.state.nonces.setdefault(address, 0)
        return address

    def token(self, token: str | int) -> int:
        if isinstance(token, str) and token.upper() in TOKENS:
            return TOKENS[token.upper()][0]
        address = parse_int(token)
        if address not in {a for a, _, _ in TOKENS.values()}:
            raise ValueError(f"unknown token {token!r} (known: {', '.join(TOKENS)})")
        return address

    def mint(self, address: int, token: str | int, amount: int) -> int:
        token_address = self.token(token)
        if amount < 0:
            raise ValueError("amount must be >= 0")
        with self.lock:
            balances = self.state.balances[token_address]
            balances[address] = balances.get(address, 0) + amount
            self.state.supply[token_address] += amount
            return balances[address]

    def create_block(self) -> Block:
        with self.lock:
            parent = self.blocks[-1]
            number = parent.number + 1
            before = self.state.copy()
            pool, self.pool = self.pool, []
            for index, tx in enumerate(pool):
                self._execute(tx)
                tx.block_number, tx.index = number, index
            block_hash = poseidon_hash_many([number, parent.hash, *(tx.hash for tx in pool)])
            block = Block(
                number=number,
                hash=block_hash,
                parent_hash=parent.hash,
                timestamp=max(int(time.time()), parent.timestamp),
                status="ACCEPTED_ON_L2",
                tx_hashes=[tx.hash for tx in pool],
                state=self.state.copy(),
                state_diff_length=_diff_length(before, self.state),
            )
            self.blocks.append(block)
            self.blocks_by_hash[block_hash] = block
            if self.l1_after_blocks is not None:
                for old in self.blocks:
                    if old.number <= number - self.l1_after_blocks:
                        old.status = "ACCEPTED_ON_L1"
            return block

    def accept_on_l1(self) -> list[int]:
        with self.lock:
            accepted = [b.number for b in self.blocks if b.status != "ACCEPTED_ON_L1"]
            for block in self.blocks:
                block.status = "ACCEPTED_ON_L1"
            return accepted

    # -- execution --

    def _execute(self, tx: Tx) -> None:
        """Apply a pooled tx to the head state: nonce, fee (STRK), then the multicall (all or nothing)."""
        state = self.state
        state.nonces[tx.sender] = state.nonces.get(tx.sender, 0) + 1
        tx.resources = gas_consumed(_n_calls(tx.calldata))
        fee = fee_of(tx.resources) + tx.tip * tx.resources["l2_gas"]
        strk = TOKENS[FEE_TOKEN][0]
        events: list[dict] = []
        scratch = state.copy()
        try:
            _run_multicall(scratch, tx.sender, tx.calldata, events)
            if scratch.balances[strk].get(tx.sender, 0) < fee:
                raise _wrap_in_execute(
                    _failure(strk, ERC20_CLASS_HASH, SEL["transfer"], "ERC20: insufficient balance"), tx.sender
                )
        except Revert as revert:
            tx.execution_status, tx.revert_reason, events = "REVERTED", revert.text, []
            scratch = state.copy()
            fee = min(fee, scratch.balances[strk].get(tx.sender, 0))
        else:
            tx.execution_status = "SUCCEEDED"
        scratch.balances[strk][tx.sender] = scratch.balances[strk].get(tx.sender, 0) - fee
        scratch.balances[strk][SEQUENCER_ADDRESS] = scratch.balances[strk].get(SEQUENCER_ADDRESS, 0) + fee
        events.append(_transfer_event(strk, tx.sender, SEQUENCER_ADDRESS, fee))
        tx.fee, tx.events = fee, events
        self.state = scratch

    # -- block ids --

    def block(self, block_id: Any) -> Block | None:
        """The closed block for ``block_id``; None for pre_confirmed. Raises BLOCK_NOT_FOUND."""
        if block_id == "pre_confirmed":
            return None
        if block_id == "latest":
            return self.blocks[-1]
        if block_id == "l1_accepted":
            for block in reversed(self.blocks):
                if block.status == "ACCEPTED_ON_L1":
                    return block
            raise spec_error("BLOCK_NOT_FOUND")
        if isinstance(block_id, dict) and "block_number" in block_id:
            number = block_id["block_number"]
            if 0 <= number < len(self.blocks):
                return self.blocks[number]
        if isinstance(block_id, dict) and "block_hash" in block_id:
            block = self.blocks_by_hash.get(int(block_id["block_hash"], 16))
            if block:
                return block
        raise spec_error("BLOCK_NOT_FOUND")

    def state_at(self, block_id: Any) -> State:
        """Head state for latest/pre_confirmed (control methods apply to the head at once), else the snapshot."""
        block = self.block(block_id)
        if block is None or block is self.blocks[-1]:
            return self.state
        return block.state

    # -- spec methods --

    def starknet_specVersion(self) -> str:
        return starknet_spec.SPEC_VERSION

    def starknet_chainId(self) -> str:
        return self.chain_id

    def starknet_syncing(self) -> bool:
        return False

    def starknet_blockNumber(self) -> int:
        return self.blocks[-1].number

    def starknet_blockHashAndNumber(self) -> dict:
        block = self.blocks[-1]
        return {"block_hash": felt(block.hash), "block_number": block.number}

    def _header(self, block: Block | None) -> dict:
        prices = {
            f"{resource}_price": {"price_in_wei": felt(wei), "price_in_fri": felt(fri)}
            for resource, (wei, fri) in GAS_PRICES.items()
        }
        common = {
            "sequencer_address": felt(SEQUENCER_ADDRESS),
            **prices,
            "l1_da_mode": "BLOB",
            "starknet_version": STARKNET_VERSION,
        }
        if block is None:
            return {"block_number": self.blocks[-1].number + 1, "timestamp": int(time.time()), **common}
        return {
            "status": block.status,
            "block_hash": felt(block.hash),
            "parent_hash": felt(block.parent_hash),
            "block_number": block.number,
            "new_root": felt(poseidon_hash_many([encode_shortstring("ROOT"), block.hash])),
            "timestamp": block.timestamp,
            **common,
            "event_commitment": "0x0",
            "transaction_commitment": "0x0",
            "receipt_commitment": "0x0",
            "state_diff_commitment": "0x0",
            "event_count": sum(len(self.txs[h].events) for h in block.tx_hashes),
            "transaction_count": len(block.tx_hashes),
            "state_diff_length": block.state_diff_length,
        }

    def starknet_getBlockWithTxHashes(self, block_id: Any) -> dict:
        block = self.block(block_id)
        return {**self._header(block), "transactions": [felt(h) for h in (block.tx_hashes if block else [])]}

    def starknet_getBlockWithTxs(self, block_id: Any, response_flags: list | None = None) -> dict:
        block = self.block(block_id)
        txs = [self._txn(self.txs[h], response_flags) for h in (block.tx_hashes if block else [])]
        return {**self._header(block), "transactions": txs}

    def starknet_getBlockWithReceipts(self, block_id: Any, response_flags: list | None = None) -> dict:
        block = self.block(block_id)
        items = []
        for h in block.tx_hashes if block else []:
            tx = self.txs[h]
            receipt = self._receipt(tx)
            receipt.pop("block_hash"), receipt.pop("block_number")
            items.append({"transaction": self._txn(tx, response_flags, with_hash=False), "receipt": receipt})
        return {**self._header(block), "transactions": items}

    def starknet_getBlockTransactionCount(self, block_id: Any) -> int:
        block = self.block(block_id)
        return len(block.tx_hashes) if block else 0

    def _txn(self, tx: Tx, response_flags: list | None, with_hash: bool = True) -> dict:
        body = dict(tx.body)
        if "INCLUDE_PROOF_FACTS" not in (response_flags or []):
            body.pop("proof_facts")
        if with_hash:
            body["transaction_hash"] = felt(tx.hash)
        return body

    def _tx(self, transaction_hash: str) -> Tx:
        tx = self.txs.get(int(transaction_hash, 16))
        if tx is None:
            raise spec_error("TXN_HASH_NOT_FOUND")
        return tx

    def starknet_getTransactionByHash(self, transaction_hash: str, response_flags: list | None = None) -> dict:
        return self._txn(self._tx(transaction_hash), response_flags)

    def starknet_getTransactionByBlockIdAndIndex(
        self, block_id: Any, index: int, response_flags: list | None = None
    ) -> dict:
        block = self.block(block_id)
        hashes = block.tx_hashes if block else []
        if not 0 <= index < len(hashes):
            raise spec_error("INVALID_TXN_INDEX")
        return self._txn(self.txs[hashes[index]], response_flags)

    def _finality(self, tx: Tx) -> str:
        return "RECEIVED" if tx.block_number is None else self.blocks[tx.block_number].status

    def starknet_getTransactionStatus(self, transaction_hash: str) -> dict:
        tx = self._tx(transaction_hash)
        out: dict[str, Any] = {"finality_status": self._finality(tx)}
        if tx.execution_status:
            out["execution_status"] = tx.execution_status
            if tx.execution_status == "REVERTED":
                out["failure_reason"] = tx.revert_reason
        return out

    def _receipt(self, tx: Tx) -> dict:
        block = self.blocks[tx.block_number]
        receipt = {
            "type": "INVOKE",
            "transaction_hash": felt(tx.hash),
            "actual_fee": {"amount": felt(tx.fee), "unit": "FRI"},
            "finality_status": block.status,
            "execution_status": tx.execution_status,
            "messages_sent": [],
            "events": tx.events,
            "execution_resources": dict(tx.resources),
            "block_hash": felt(block.hash),
            "block_number": block.number,
        }
        if tx.execution_status == "REVERTED":
            receipt["revert_reason"] = tx.revert_reason
        return receipt

    def starknet_getTransactionReceipt(self, transaction_hash: str) -> dict:
        tx = self._tx(transaction_hash)
        if tx.block_number is None:
            # RECEIVED (mempool) transactions have not been executed, so there is no receipt yet: real nodes answer
            # TXN_HASH_NOT_FOUND too. Receipts without block_hash are only for txs in the pre-confirmed block, and
            # this double has no pre-confirmed phase (txs go RECEIVED -> ACCEPTED_ON_L2 when a block closes).
            raise spec_error("TXN_HASH_NOT_FOUND")
        return self._receipt(tx)

    def starknet_getNonce(self, block_id: Any, contract_address: str) -> str:
        state, address = self.state_at(block_id), int(contract_address, 16)
        if address not in state.class_hashes:
            raise spec_error("CONTRACT_NOT_FOUND")
        return felt(state.nonces.get(address, 0))

    def starknet_getClassHashAt(self, block_id: Any, contract_address: str) -> str:
        state, address = self.state_at(block_id), int(contract_address, 16)
        if address not in state.class_hashes:
            raise spec_error("CONTRACT_NOT_FOUND")
        return felt(state.class_hashes[address])

    def starknet_getClassAt(self, block_id: Any, contract_address: str) -> dict:
        return _contract_class(int(self.starknet_getClassHashAt(block_id, contract_address), 16))

    def starknet_getClass(self, block_id: Any, class_hash: str) -> dict:
        self.state_at(block_id)
        if int(class_hash, 16) not in (ACCOUNT_CLASS_HASH, ERC20_CLASS_HASH):
            raise spec_error("CLASS_HASH_NOT_FOUND")
        return _contract_class(int(class_hash, 16))

    def starknet_getStorageAt(
        self, contract_address: str, key: str, block_id: Any, response_flags: list | None = None
    ) -> Any:
        state, address = self.state_at(block_id), int(contract_address, 16)
        if address not in state.class_hashes:
            raise spec_error("CONTRACT_NOT_FOUND")
        value = state.storage(address, int(key, 16))
        if "INCLUDE_LAST_UPDATE_BLOCK" not in (response_flags or []):
            return felt(value)
        upto = self.block(block_id)
        upto_number = upto.number if upto else self.blocks[-1].number
        last = 0
        for block in self.blocks[1 : upto_number + 1]:
            previous = self.blocks[block.number - 1].state
            if block.state.storage(address, int(key, 16)) != previous.storage(address, int(key, 16)):
                last = block.number
        return {"value": felt(value), "last_update_block": last}

    def starknet_call(self, request: dict, block_id: Any) -> list[str]:
        state = self.state_at(block_id).copy()  # externals may be called too; their effects are discarded
        address, selector = int(request["contract_address"], 16), int(request["entry_point_selector"], 16)
        args = [int(x, 16) for x in request["calldata"]]
        if address not in state.class_hashes:
            raise spec_error("CONTRACT_NOT_FOUND")
        try:
            if state.is_token(address):
                result = erc20_entry(state, address, 0, selector, args, [])
            else:
                result = account_view(state, address, selector, args)
        except KeyError:
            raise spec_error("ENTRYPOINT_NOT_FOUND") from None
        except Revert as revert:
            raise spec_error("CONTRACT_ERROR", {"revert_error": revert.structured}) from None
        return [felt(x) for x in result]

    def starknet_estimateFee(self, request: list, simulation_flags: list, block_id: Any) -> list[dict]:
        state = self.state_at(block_id).copy()
        skip_validate = "SKIP_VALIDATE" in simulation_flags
        out = []
        for index, body in enumerate(request):

            def failed(error: Any, index: int = index) -> RpcError:
                return spec_error("TRANSACTION_EXECUTION_ERROR", {"transaction_index": index, "execution_error": error})

            if body.get("type") != "INVOKE":
                raise failed(f"the Starknet test double only supports INVOKE v3 transactions, got {body.get('type')}")
            sender = int(body["sender_address"], 16)
            if sender not in state.class_hashes:
                raise spec_error("CONTRACT_NOT_FOUND")
            if not state.is_account(sender):
                raise failed(f"Sender address {felt(sender)} is not an account contract")
            nonce = int(body["nonce"], 16)
            if nonce < state.nonces.get(sender, 0):
                raise failed(
                    f"Invalid transaction nonce of contract at address 0x{sender:064x}. "
                    f"Account nonce: {felt(state.nonces.get(sender, 0))}; got: {felt(nonce)}."
                )
            if not skip_validate:
                tx_hash = invoke_v3_hash(body, self.chain_id_int)
                if not check_signature(state.public_keys[sender], tx_hash, [int(x, 16) for x in body["signature"]]):
                    revert = _failure(sender, ACCOUNT_CLASS_HASH, SEL["__validate__"], "Account: invalid signature")
                    raise failed(revert.structured)
            calldata = [int(x, 16) for x in body["calldata"]]
            consumed = gas_consumed(_n_calls(calldata))
            try:
                _run_multicall(state, sender, calldata, [])
            except Revert as revert:
                raise failed(revert.structured) from None
            fee = fee_of(consumed)
            strk = TOKENS[FEE_TOKEN][0]
            state.nonces[sender] = state.nonces.get(sender, 0) + 1
            state.balances[strk][sender] = max(0, state.balances[strk].get(sender, 0) - fee)
            out.append(
                {
                    "l1_gas_consumed": felt(consumed["l1_gas"]),
                    "l1_gas_price": felt(GAS_PRICES["l1_gas"][1]),
                    "l2_gas_consumed": felt(consumed["l2_gas"]),
                    "l2_gas_price": felt(GAS_PRICES["l2_gas"][1]),
                    "l1_data_gas_consumed": felt(consumed["l1_data_gas"]),
                    "l1_data_gas_price": felt(GAS_PRICES["l1_data_gas"][1]),
                    "overall_fee": felt(fee),
                    "unit": "FRI",
                }
            )
        return out

    def starknet_addInvokeTransaction(self, invoke_transaction: dict) -> dict:
        body = invoke_transaction
        if body["version"] != "0x3":
            raise spec_error("UNSUPPORTED_TX_VERSION")  # query versions are for estimation only
        if body.get("proof"):
            raise spec_error("INVALID_PROOF")
        state = self.state
        sender = int(body["sender_address"], 16)
        if sender not in state.class_hashes:
            raise spec_error("VALIDATION_FAILURE", f"Requested contract address {felt(sender)} is not deployed.")
        if not state.is_account(sender):
            raise spec_error("NON_ACCOUNT")
        tx_hash = invoke_v3_hash(body, self.chain_id_int)
        if tx_hash in self.txs:
            raise spec_error("DUPLICATE_TX")
        expected = state.nonces.get(sender, 0) + sum(1 for tx in self.pool if tx.sender == sender)
        nonce = int(body["nonce"], 16)
        if nonce != expected:
            raise spec_error(
                "INVALID_TRANSACTION_NONCE",
                f"Invalid transaction nonce of contract at address 0x{sender:064x}. "
                f"Account nonce: {felt(expected)}; got: {felt(nonce)}.",
            )
        calldata = [int(x, 16) for x in body["calldata"]]
        consumed = gas_consumed(_n_calls(calldata))
        bounds = {name: body["resource_bounds"][name] for name in ("l1_gas", "l1_data_gas", "l2_gas")}
        for resource, amount in consumed.items():
            if amount == 0:
                continue
            if int(bounds[resource]["max_price_per_unit"], 16) < GAS_PRICES[resource][1]:
                raise spec_error("FEE_BELOW_MINIMUM")
            if int(bounds[resource]["max_amount"], 16) < amount:
                raise spec_error("INSUFFICIENT_RESOURCES_FOR_VALIDATE")
        tip = int(body["tip"], 16)
        max_fee = sum(int(b["max_amount"], 16) * int(b["max_price_per_unit"], 16) for b in bounds.values())
        max_fee += tip * int(bounds["l2_gas"]["max_amount"], 16)
        if state.balances[TOKENS[FEE_TOKEN][0]].get(sender, 0) < max_fee:
            raise spec_error("INSUFFICIENT_ACCOUNT_BALANCE")
        if not check_signature(state.public_keys[sender], tx_hash, [int(x, 16) for x in body["signature"]]):
            revert = _failure(sender, ACCOUNT_CLASS_HASH, SEL["__validate__"], "Account: invalid signature")
            raise spec_error("VALIDATION_FAILURE", "The 'validate' entry point panicked with:\n" + revert.text)
        tx = Tx(tx_hash, _canonical_invoke(body), sender, nonce, calldata, tip)
        self.txs[tx_hash] = tx
        self.pool.append(tx)
        return {"transaction_hash": felt(tx_hash)}

    def starknet_getEvents(self, filter: dict) -> dict:
        chunk_size = filter["chunk_size"]
        if chunk_size > 1024:
            raise spec_error("PAGE_SIZE_TOO_BIG")
        keys = filter.get("keys") or []
        if len(keys) > 16:
            raise spec_error("TOO_MANY_KEYS_IN_FILTER")
        first = self.block(filter.get("from_block", {"block_number": 0}))
        last = self.block(filter.get("to_block", "latest"))
        first_number = first.number if first else self.blocks[-1].number + 1
        last_number = last.number if last else self.blocks[-1].number
        addresses = filter.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        wanted = {int(a, 16) for a in addresses} if addresses else None
        matched = []
        for block in self.blocks[first_number : last_number + 1]:
            for tx_index, h in enumerate(block.tx_hashes):
                for event_index, event in enumerate(self.txs[h].events):
                    if wanted is not None and int(event["from_address"], 16) not in wanted:
                        continue
                    if not _keys_match(event["keys"], keys):
                        continue
                    matched.append(
                        {
                            **event,
                            "block_hash": felt(block.hash),
                            "block_number": block.number,
                            "transaction_hash": felt(h),
                            "transaction_index": tx_index,
                            "event_index": event_index,
                        }
                    )
        token = filter.get("continuation_token")
        try:
            start = int(token) if token is not None else 0
        except ValueError:
            raise spec_error("INVALID_CONTINUATION_TOKEN") from None
        if not 0 <= start <= len(matched):
            raise spec_error("INVALID_CONTINUATION_TOKEN")
        out: dict[str, Any] = {"events": matched[start : start + chunk_size]}
        if start + chunk_size < len(matched):
            out["continuation_token"] = str(start + chunk_size)
        return out

    # -- devnet_* control methods --

    def devnet_createBlock(self) -> dict:
        block = self.create_block()
        return {"block_hash": felt(block.hash), "block_number": block.number}

    def devnet_acceptOnL1(self) -> dict:
        return {"accepted_block_numbers": self.accept_on_l1(), "l1_accepted_block_number": self.blocks[-1].number}

    def devnet_mint(self, address: Any, amount: Any, token: Any = FEE_TOKEN) -> dict:
        token_address = self.token(token)
        new_balance = self.mint(parse_int(address), token_address, parse_int(amount))
        return {
            "address": felt(parse_int(address)),
            "token": felt(token_address),
            "symbol": _symbol_of(token_address),
            "new_balance": str(new_balance),
        }

    def devnet_deployAccount(self, public_key: Any) -> dict:
        address = self.deploy_account(parse_int(public_key))
        return {"address": felt(address), "class_hash": felt(ACCOUNT_CLASS_HASH)}


def _keys_match(event_keys: list[str], wanted: list[list[str]]) -> bool:
    for position, options in enumerate(wanted):
        if not options:
            continue
        if position >= len(event_keys) or int(event_keys[position], 16) not in {int(o, 16) for o in options}:
            return False
    return True


def _diff_length(before: State, after: State) -> int:
    changed = sum(1 for a, n in after.nonces.items() if before.nonces.get(a) != n)
    for token, balances in after.balances.items():
        changed += sum(1 for owner, v in balances.items() if before.balances[token].get(owner) != v)
    for token, allowances in after.allowances.items():
        changed += sum(1 for k, v in allowances.items() if before.allowances[token].get(k) != v)
    return changed


def _run_multicall(state: State, account: int, calldata: list[int], events: list[dict]) -> None:
    """Run ``__execute__`` of a Cairo 1 account on ``state`` (mutated; caller discards it on Revert)."""
    try:
        calls = decode_multicall(calldata)
    except ValueError:
        raise _wrap_in_execute(
            _failure(account, ACCOUNT_CLASS_HASH, SEL["__execute__"], "Failed to deserialize param #1"), account
        ) from None
    for to, selector, args in calls:
        if to not in state.class_hashes:
            message = f"Requested contract address {felt(to)} is not deployed."
            raise _wrap_in_execute(Revert(message, message + "\n"), account)
        try:
            if state.is_token(to):
                erc20_entry(state, to, account, selector, args, events)
            else:
                account_view(state, to, selector, args)
        except KeyError:
            message = f"Entry point EntryPointSelector(0x{selector:x}) not found in contract."
            inner = Revert(
                {
                    "contract_address": felt(to),
                    "class_hash": felt(state.class_hashes[to]),
                    "selector": felt(selector),
                    "error": message,
                },
                f"Error in contract (contract address: 0x{to:064x}, class hash: "
                f"0x{state.class_hashes[to]:064x}, selector: 0x{selector:064x}):\n{message}\n",
            )
            raise _wrap_in_execute(inner, account) from None
        except Revert as revert:
            raise _wrap_in_execute(revert, account) from None


# --- JSON-RPC over HTTP -----------------------------------------------------------------------------------

SPEC_METHODS = {
    name for name in dir(StarknetNode) if name.startswith("starknet_") and name in set(starknet_spec.method_names())
}
DEVNET_METHODS = {name for name in dir(StarknetNode) if name.startswith("devnet_")}
DEVNET_PARAMS = {
    "devnet_createBlock": [],
    "devnet_acceptOnL1": [],
    "devnet_mint": ["address", "amount", "token"],
    "devnet_deployAccount": ["public_key"],
}


class StarknetDouble:
    """The node served over HTTP: ``with StarknetDouble() as node: FullNodeClient(node_url=node.url)``."""

    def __init__(
        self,
        chain_id: str = SN_SEPOLIA,
        host: str = "127.0.0.1",
        port: int = 0,
        strict: bool = True,
        block_seconds: float | None = None,
        l1_after_blocks: int | None = None,
    ):
        self.node = StarknetNode(chain_id=chain_id, l1_after_blocks=l1_after_blocks)
        self.host, self.port, self.strict, self.block_seconds = host, port, strict, block_seconds
        self.violations: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle --

    @property
    def chain_id(self) -> str:
        return self.node.chain_id

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("StarknetDouble is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> StarknetDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                if self.path.rstrip("/") not in ("", "/rpc/v0_10", "/rpc/v0_10_2"):
                    self._send(404, b'{"error": "not found"}')
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                response = double.handle_raw(raw)
                self._send(200, b"" if response is None else json.dumps(response).encode())

            def do_GET(self) -> None:
                self._send(405, b'{"error": "JSON-RPC: use POST"}')

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._stopping.clear()
        serve = threading.Thread(target=self._server.serve_forever, name="starknet-double-http", daemon=True)
        serve.start()
        self._threads = [serve]
        if self.block_seconds:
            timer = threading.Thread(target=self._block_timer, name="starknet-double-blocks", daemon=True)
            timer.start()
            self._threads.append(timer)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._server, self._threads = None, []

    def __enter__(self) -> StarknetDouble:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _block_timer(self) -> None:
        while not self._stopping.wait(self.block_seconds):
            self.node.create_block()

    # -- Python-side convenience (same state as the RPC) --

    def deploy_account(self, private_key: int) -> str:
        return felt(self.node.deploy_account(KeyPair.from_private_key(private_key).public_key))

    def mint(self, address: str | int, symbol: str, amount_base: int) -> int:
        return self.node.mint(parse_int(address), symbol, amount_base)

    def create_block(self) -> dict:
        return self.node.devnet_createBlock()

    def accept_on_l1(self) -> list[int]:
        return self.node.accept_on_l1()

    def balance(self, address: str | int, symbol: str) -> int:
        with self.node.lock:
            return self.node.state.balances[self.node.token(symbol)].get(parse_int(address), 0)

    def nonce(self, address: str | int) -> int:
        with self.node.lock:
            return self.node.state.nonces.get(parse_int(address), 0)

    def token_address(self, symbol: str) -> str:
        return felt(self.node.token(symbol))

    # -- JSON-RPC dispatch --

    def handle_raw(self, raw: bytes) -> Any:
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _response(None, error=RpcError(-32700, "Parse error"))
        if isinstance(request, list):
            if not request:
                return _response(None, error=RpcError(-32600, "Invalid Request", "empty batch"))
            responses = [r for r in (self.handle(item) for item in request) if r is not None]
            return responses or None
        return self.handle(request)

    def handle(self, request: Any) -> dict | None:
        if (
            not isinstance(request, dict)
            or request.get("jsonrpc") != "2.0"
            or not isinstance(request.get("method"), str)
        ):
            return _response(
                request.get("id") if isinstance(request, dict) else None, error=RpcError(-32600, "Invalid Request")
            )
        request_id, method, params = request.get("id"), request["method"], request.get("params")
        try:
            result = self._dispatch(method, params)
            response = _response(request_id, result=result)
        except RpcError as error:
            response = _response(request_id, error=error)
        except Exception as exc:
            response = _response(request_id, error=RpcError(-32603, "Internal error", f"{type(exc).__name__}: {exc}"))
        if self.strict and method in SPEC_METHODS:
            problems = (
                starknet_spec.validate_result(method, response["result"])
                if "result" in response
                else starknet_spec.validate_error(method, response["error"])
            )
            if problems:
                message = f"starknet double spec violation in {method}: " + "; ".join(problems)
                self.violations.append(message)
                response = _response(request_id, error=RpcError(-32603, "Internal error", message))
        return None if "id" not in request else response

    def _dispatch(self, method: str, params: Any) -> Any:
        if method in SPEC_METHODS:
            problems = starknet_spec.validate_params(method, params)
            if problems:
                raise invalid_params("; ".join(problems))
            named = starknet_spec.params_by_name(method, params)
            with self.node.lock:
                return getattr(self.node, method)(**named)
        if method in DEVNET_METHODS:
            names = DEVNET_PARAMS[method]
            if isinstance(params, list):
                params = dict(zip(names, params, strict=False))
            params = params or {}
            if not isinstance(params, dict) or set(params) - set(names):
                raise invalid_params(f"{method} takes params {names}")
            try:
                with self.node.lock:
                    return getattr(self.node, method)(**params)
            except (TypeError, ValueError, KeyError) as exc:
                raise invalid_params(str(exc)) from None
        raise RpcError(-32601, "Method not found", method)


def _response(request_id: Any, result: Any = None, error: RpcError | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


# --- sandbox CLI --------------------------------------------------------------------------------------------

DEMO_BALANCES = {
    "STRK": 1_000 * 10**18,
    "ETH": 10 * 10**18,
    "USDC": 10_000 * 10**6,
    "USDT": 10_000 * 10**6,
    "WBTC": 10**8,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Starknet JSON-RPC v0.10.2 test double (sandbox mode)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--chain-id", default=SN_SEPOLIA)
    parser.add_argument("--block-seconds", type=float, default=3.0)
    parser.add_argument("--l1-after-blocks", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--no-strict", action="store_true", help="do not validate responses against the spec")
    args = parser.parse_args(argv)

    double = StarknetDouble(
        chain_id=args.chain_id,
        host=args.host,
        port=args.port,
        strict=not args.no_strict,
        block_seconds=args.block_seconds or None,
        l1_after_blocks=args.l1_after_blocks,
    )
    accounts = []
    for _ in range(args.accounts):
        private_key = secrets.randbelow(2**251 - 1) + 1
        address = double.deploy_account(private_key)
        for symbol, amount in DEMO_BALANCES.items():
            double.mint(address, symbol, amount)
        accounts.append((address, private_key))
    double.node.create_block()
    double.start()

    line = "=" * 78
    print(line)
    print("SANDBOX Starknet JSON-RPC (test double, not a real network)")
    print(line)
    print(f"url:        {double.url}  (also {double.url}/rpc/v0_10)")
    print(f"chain id:   {double.chain_id}   spec: {starknet_spec.SPEC_VERSION}")
    print(f"blocks:     every {args.block_seconds}s; ACCEPTED_ON_L1 after {args.l1_after_blocks} newer blocks")
    print("tokens:     " + ", ".join(f"{s} {double.token_address(s)}" for s in TOKENS))
    print(f"accounts:   OpenZeppelin-style, class hash {felt(ACCOUNT_CLASS_HASH)}; demo balances {DEMO_BALANCES}")
    for i, (address, private_key) in enumerate(accounts):
        print(f"  #{i} address {address}")
        print(f"     private key {felt(private_key)}")
    print("control:    devnet_createBlock, devnet_acceptOnL1, devnet_mint, devnet_deployAccount (JSON-RPC)")
    print(line, flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    double.stop()
    print("sandbox stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
