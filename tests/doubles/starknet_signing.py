"""Test helpers that sign Starknet transactions and SNIP-12 messages with starknet-py only (as a wallet would)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any

from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_models import Call, ResourceBoundsMapping
from starknet_py.net.client_utils import _create_broadcasted_txn
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair
from starknet_py.net.signer.stark_curve_signer import StarkCurveSigner
from starknet_py.utils.typed_data import TypedData

U128 = 2**128


def keypair() -> KeyPair:
    """A fresh random Stark key pair (``.private_key``, ``.public_key`` ints)."""
    return KeyPair.generate()


def _int(value: int | str) -> int:
    return value if isinstance(value, int) else int(value, 16) if value.lower().startswith("0x") else int(value)


def _url(double_or_url: Any) -> str:
    return double_or_url if isinstance(double_or_url, str) else double_or_url.url


def _run(coro: Coroutine) -> Any:
    """Run ``coro`` whether or not an event loop is already running in this thread (pytest-asyncio tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def transfer_call(token_address: int | str, recipient: int | str, amount_base: int) -> dict:
    """An ERC-20 ``transfer(recipient, amount: u256)`` call dict for :func:`signed_invoke`."""
    return {
        "contract_address": token_address,
        "entrypoint": "transfer",
        "calldata": [_int(recipient), amount_base % U128, amount_base // U128],
    }


def to_calls(calls: list[dict]) -> list[Call]:
    return [
        Call(
            to_addr=_int(call["contract_address"]),
            selector=get_selector_from_name(call["entrypoint"]),
            calldata=[_int(x) for x in call.get("calldata", [])],
        )
        for call in calls
    ]


def account(double_or_url: Any, chain_id: int | str, account_address: int | str, private_key: int | str) -> Account:
    """A starknet-py ``Account`` on the node (its cairo version is read from the node with getClassAt)."""
    return Account(
        address=_int(account_address),
        client=FullNodeClient(node_url=_url(double_or_url)),
        key_pair=KeyPair.from_private_key(_int(private_key)),
        chain=_int(chain_id),
    )


async def signed_invoke_async(
    double_or_url: Any,
    chain_id: int | str,
    account_address: int | str,
    private_key: int | str,
    calls: list[dict],
    nonce: int | None = None,
    resource_bounds: ResourceBoundsMapping | None = None,
) -> dict:
    acct = account(double_or_url, chain_id, account_address, private_key)
    tx = await acct.sign_invoke_v3(
        calls=to_calls(calls), nonce=nonce, resource_bounds=resource_bounds, auto_estimate=resource_bounds is None
    )
    return _create_broadcasted_txn(transaction=tx)


def signed_invoke(
    double_or_url: Any,
    chain_id: int | str,
    account_address: int | str,
    private_key: int | str,
    calls: list[dict],
    nonce: int | None = None,
    resource_bounds: ResourceBoundsMapping | None = None,
) -> dict:
    """The BROADCASTED_INVOKE_TXN JSON that ``starknet_addInvokeTransaction`` takes, built and signed by starknet-py's
    ``Account.sign_invoke_v3`` and serialised by its own RPC schema (what ``FullNodeClient.send_transaction`` posts).

    ``calls``: ``[{"contract_address", "entrypoint", "calldata"}]``. ``nonce`` None = the node's nonce for the account
    (``starknet_getNonce`` at pre_confirmed: mempool txs are not counted). ``resource_bounds`` None = auto-estimate
    with ``starknet_estimateFee`` (x1.5, as starknet-py does). ``chain_id`` is the chain the signature is bound to.
    """
    return _run(
        signed_invoke_async(double_or_url, chain_id, account_address, private_key, calls, nonce, resource_bounds)
    )


def sign_typed_data(private_key: int | str, account_address: int | str, typed_data: dict) -> list[str]:
    """SNIP-12 signature (hex felts) of ``typed_data`` for ``account_address``, as a wallet produces it."""
    key_pair = KeyPair.from_private_key(_int(private_key))
    signer = StarkCurveSigner(account_address=_int(account_address), key_pair=key_pair, chain_id=0)
    signature = signer.sign_message(TypedData.from_dict(typed_data), _int(account_address))
    return [hex(part) for part in signature]


def typed_data_hash(typed_data: dict, account_address: int | str) -> int:
    return TypedData.from_dict(typed_data).message_hash(account_address=_int(account_address))
