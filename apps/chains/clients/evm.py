"""EVM chains through web3.py: timeouts, retries with backoff, failover across RPC URLs, one error type. The
transfer side (prepare, decode, send, observe) is ``EvmTransfers``.

Balances of any number of (owner, token) pairs are read in one ``eth_call`` to Multicall3 ``aggregate3``
(``getEthBalance`` for the native coin, ERC-20 ``balanceOf`` otherwise, ``getBlockNumber`` for the block).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from django.conf import settings
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from apps.chains.models import NATIVE_ADDRESS
from apps.chains.registry import ChainConfig
from engipay.api.errors import ApplicationError, ChainUnavailable

from .base import BalanceQuery, BalanceSnapshot, BlockRef
from .evm_transfers import EvmTransfers

logger = logging.getLogger(__name__)
T = TypeVar("T")

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
_AGGREGATE3 = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")
_GET_ETH_BALANCE = function_signature_to_4byte_selector("getEthBalance(address)")
_GET_BLOCK_NUMBER = function_signature_to_4byte_selector("getBlockNumber()")
_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")

# Network-level failures worth another try on the same URL before the next one.
TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
# The node's own answer (a JSON-RPC error, a revert): not a reason to ask another node. Our own errors pass too.
ANSWERS = (Web3RPCError, ContractLogicError, ApplicationError)


def _transient_http(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return (
        isinstance(exc, requests.HTTPError)
        and response is not None
        and (response.status_code == 429 or response.status_code >= 500)
    )


class EvmClient(EvmTransfers):
    attempts_per_url = 2
    backoff_seconds = 0.1

    def __init__(self, chain: ChainConfig, *, timeout: float | None = None) -> None:
        if not chain.rpc_urls:
            raise ChainUnavailable(message=f"No RPC URL configured for {chain.key}.")
        self.chain = chain
        timeout = timeout or settings.CHAIN_RPC_TIMEOUT_SECONDS
        # web3's own retry loop is off: retries and failover are ours, bounded by the timeout above.
        self._w3s = [
            # No middleware: no hidden eth_chainId round trips (validation) on every call.
            Web3(
                HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None),
                middleware=[],
            )
            for url in chain.rpc_urls
        ]

    # --- transport -----------------------------------------------------------------------------------------

    def call(self, fn: Callable[[Web3], T]) -> T:
        """Run ``fn(w3)`` on the first RPC that answers; ChainUnavailable (503) when none does."""
        last: Exception | None = None
        for w3 in self._w3s:
            for attempt in range(self.attempts_per_url):
                try:
                    return fn(w3)
                except ANSWERS:
                    raise  # the node answered (a JSON-RPC error, a revert): another node would say the same
                except Exception as exc:
                    # Anything else is this endpoint failing: refused connection, timeout, 401/403 from an
                    # expired provider key, 5xx, an HTML page instead of JSON. Retry if transient, then fail over.
                    last = exc
                    if not (isinstance(exc, TRANSIENT) or _transient_http(exc)):
                        break
                    if attempt + 1 < self.attempts_per_url:
                        time.sleep(self.backoff_seconds * (2**attempt) * (1 + random.random()))  # noqa: S311
        logger.warning("Chain %s unreachable: %r", self.chain.key, last)
        raise ChainUnavailable(
            "chain_unavailable", f"The {self.chain.name} node did not answer.", {"chain": self.chain.key}
        )

    # --- reads ---------------------------------------------------------------------------------------------

    def head(self) -> BlockRef:
        block = self.call(lambda w3: w3.eth.get_block("latest"))
        return BlockRef(number=block["number"], hash=block["hash"].to_0x_hex(), timestamp=block["timestamp"])

    def chain_id(self) -> int:
        return self.call(lambda w3: w3.eth.chain_id)

    def eth_call(self, to: str, data: bytes, block: str | int = "latest") -> bytes:
        return bytes(self.call(lambda w3: w3.eth.call({"to": Web3.to_checksum_address(to), "data": data}, block)))

    def aggregate3(self, calls: list[tuple[str, bool, bytes]]) -> list[tuple[bool, bytes]]:
        """Many contract reads in ONE ``eth_call`` to Multicall3 ``aggregate3``: [(target, allow_failure, data)]
        → [(success, return data)] in the same order."""
        data = _AGGREGATE3 + encode(["(address,bool,bytes)[]"], [calls])
        try:
            raw = self.eth_call(MULTICALL3_ADDRESS, data)
        except Web3RPCError as exc:
            raise ChainUnavailable(
                "chain_unavailable", f"Multicall3 failed on {self.chain.name}: {exc}", {"chain": self.chain.key}
            ) from None
        if not raw:
            raise ChainUnavailable(
                "chain_unavailable",
                f"No Multicall3 at {MULTICALL3_ADDRESS} on {self.chain.name}.",
                {"chain": self.chain.key},
            )
        (results,) = decode(["(bool,bytes)[]"], raw)
        return list(results)

    def balances(self, queries: list[BalanceQuery]) -> BalanceSnapshot:
        calls: list[tuple[str, bool, bytes]] = [(MULTICALL3_ADDRESS, False, _GET_BLOCK_NUMBER)]
        for query in queries:
            owner = encode(["address"], [query.owner])
            if query.asset_address.lower() == NATIVE_ADDRESS:
                calls.append((MULTICALL3_ADDRESS, True, _GET_ETH_BALANCE + owner))
            else:
                calls.append((Web3.to_checksum_address(query.asset_address), True, _BALANCE_OF + owner))
        results = self.aggregate3(calls)
        block_number = decode(["uint256"], results[0][1])[0]
        balances: dict[BalanceQuery, int | None] = {}
        for query, (success, payload) in zip(queries, results[1:], strict=True):
            balances[query] = decode(["uint256"], payload)[0] if success and len(payload) == 32 else None
        return BalanceSnapshot(block=BlockRef(number=block_number), balances=balances)

    def w3(self) -> Web3:
        return self._w3s[0]
