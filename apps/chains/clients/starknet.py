"""Starknet through starknet-py's ``FullNodeClient`` (JSON-RPC spec 0.10.2): timeouts, retries, failover.

Reads run concurrently (bounded) inside one event loop per operation; the callers are synchronous (views,
Celery tasks), so each public method runs its coroutine to completion with ``asyncio.run`` (in a helper thread
when the caller already runs a loop). ERC-20 amounts are u256 = [low, high] felts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from django.conf import settings
from marshmallow import ValidationError
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.transaction import (
    CommonTransactionV3Fields,
    TransactionHashPrefix,
    compute_invoke_v3_transaction_hash,
)
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import (
    Call,
    DAMode,
    ResourceBounds,
    ResourceBoundsMapping,
    TransactionExecutionStatus,
    TransactionFinalityStatus,
    TransactionStatus,
)
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.models.transaction import InvokeV3
from starknet_py.net.schemas.rpc.transactions import BroadcastedInvokeTransactionV3Schema

from apps.accounts.addresses import normalize_starknet
from apps.chains.models import NATIVE_ADDRESS
from apps.chains.registry import ChainConfig
from engipay.api.errors import ChainUnavailable, InvalidInput

from .base import (
    AssetRef,
    BalanceQuery,
    BalanceSnapshot,
    BlockRef,
    Observation,
    PreparedTransfer,
    Submission,
    TransferIntent,
    TxStatus,
    require_funds,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

BALANCE_OF = get_selector_from_name("balance_of")
BALANCE_OF_CAMEL = get_selector_from_name("balanceOf")
TRANSFER = get_selector_from_name("transfer")
U128 = 2**128
FIELD_PRIME = 2**251 + 17 * 2**192 + 1
_HEX_FELT = re.compile(r"^0x[0-9a-f]{1,64}$")

# JSON-RPC error codes of the spec (starknet_api_openrpc.json / starknet_write_api.json).
CONTRACT_NOT_FOUND = 20
ENTRYPOINT_NOT_FOUND = 21
TXN_HASH_NOT_FOUND = 29
CONTRACT_ERROR = 40
TRANSACTION_EXECUTION_ERROR = 41
INVALID_TRANSACTION_NONCE = 52
INSUFFICIENT_ACCOUNT_BALANCE = 54
VALIDATION_FAILURE = 55
DUPLICATE_TX = 59
INVALID_PARAMS = -32602
_REFUSALS = {
    INVALID_TRANSACTION_NONCE: "nonce_mismatch",
    INSUFFICIENT_ACCOUNT_BALANCE: "insufficient_funds",
    VALIDATION_FAILURE: "invalid_signature",
}

# STRK pays v3 fees (unit FRI); the same address on mainnet and Sepolia. A CHAINS entry may name another.
STRK_ADDRESS = "0x04718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d"


def chain_id_felt(chain_id: int | str) -> int:
    """``SN_MAIN``/``SN_SEPOLIA`` (short strings) or their hex felt, as an int."""
    if isinstance(chain_id, int):
        return chain_id
    if chain_id.startswith("0x"):
        return int(chain_id, 16)
    return int.from_bytes(chain_id.encode("ascii"), "big")


def felt(value: int) -> str:
    return hex(value)


def node_answered(exc: ClientError) -> bool:
    """An error of the Starknet spec (a positive code: the node is up and says no to this request). JSON-RPC's own
    -32xxx errors (rate limits, internal errors) and HTTP failures (the status as a *string* code) are the endpoint
    failing: worth the next URL."""
    return isinstance(exc.code, int) and (exc.code > 0 or exc.code == INVALID_PARAMS)


def error_code(exc: ClientError) -> int | None:
    try:
        return int(exc.code) if exc.code is not None else None
    except (TypeError, ValueError):
        return None


def execute_calldata(calls: list[dict[str, Any]]) -> list[int]:
    """``__execute__`` calldata of a Cairo 1 account: [n, (to, selector, len, *calldata)...]."""
    out = [len(calls)]
    for call in calls:
        data = [int(x, 16) if isinstance(x, str) else int(x) for x in call["calldata"]]
        out += [int(call["contract_address"], 16), get_selector_from_name(call["entrypoint"]), len(data), *data]
    return out


def parse_execute_calldata(calldata: list[int]) -> list[tuple[int, int, list[int]]] | None:
    """(to, selector, calldata) of each call in Cairo 1 ``__execute__`` calldata; None if it is not that format."""
    try:
        count, pos, calls = calldata[0], 1, []
        for _ in range(count):
            to, selector, length = calldata[pos], calldata[pos + 1], calldata[pos + 2]
            calls.append((to, selector, calldata[pos + 3 : pos + 3 + length]))
            pos += 3 + length
    except (IndexError, TypeError):
        return None
    return calls if pos == len(calldata) else None


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    # Called from async code (a consumer): run the loop in a thread of its own.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro_factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


class StarknetClient:
    attempts_per_url = 2
    backoff_seconds = 0.1
    max_concurrency = 16

    def __init__(self, chain: ChainConfig, *, timeout: float | None = None) -> None:
        if not chain.rpc_urls:
            raise ChainUnavailable(message=f"No RPC URL configured for {chain.key}.")
        self.chain = chain
        self.chain_id = chain_id_felt(chain.chain_id)
        self.timeout = timeout or settings.CHAIN_RPC_TIMEOUT_SECONDS
        self.options = settings.CHAINS.get(chain.key, {})

    # --- transport -----------------------------------------------------------------------------------------

    async def with_node(self, fn: Callable[[FullNodeClient], Awaitable[T]]) -> T:
        """``await fn(client)`` on the first RPC URL that answers; ChainUnavailable (503) when none does."""
        last: BaseException | None = None
        for url in self.chain.rpc_urls:
            for attempt in range(self.attempts_per_url):
                try:
                    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                        client = FullNodeClient(node_url=url, session=session)
                        # The spec version is checked by the health probe; skip starknet-py's extra round trip.
                        client._client._is_spec_version_verified = True
                        return await fn(client)
                except ClientError as exc:
                    if exc.code == INVALID_PARAMS:
                        raise InvalidInput(
                            "invalid_input", f"The Starknet node refused the request: {exc.message}"[:500]
                        ) from None
                    if node_answered(exc):
                        raise
                    last = exc  # an HTTP error status or a JSON-RPC server error: this endpoint is failing
                    status = error_code(exc) or 0
                    if isinstance(exc.code, str) and not (status == 429 or status >= 500):
                        break
                except (InvalidInput, ChainUnavailable):
                    raise
                except (aiohttp.ClientError, TimeoutError, OSError, ValueError, ValidationError, KeyError) as exc:
                    last = exc  # refused, timed out, not JSON, or an answer off the spec's shape
                if attempt + 1 < self.attempts_per_url:
                    await asyncio.sleep(self.backoff_seconds * (2**attempt) * (1 + random.random()))  # noqa: S311
        logger.warning("Chain %s unreachable: %r", self.chain.key, last)
        raise ChainUnavailable(
            "chain_unavailable", f"The {self.chain.name} node did not answer.", {"chain": self.chain.key}
        )

    def run(self, fn: Callable[[FullNodeClient], Awaitable[T]]) -> T:
        return _run(lambda: self.with_node(fn))

    # --- reads ---------------------------------------------------------------------------------------------

    def head(self) -> BlockRef:
        async def read(client: FullNodeClient) -> BlockRef:
            latest = await client.get_block_hash_and_number()
            return BlockRef(number=latest.block_number, hash=felt(latest.block_hash))

        return self.run(read)

    def chain_id_of_node(self) -> str:
        return self.run(lambda client: client.get_chain_id())

    @staticmethod
    async def _balance(client: FullNodeClient, token: int, owner: int, block: int) -> int | None:
        for selector in (BALANCE_OF, BALANCE_OF_CAMEL):
            try:
                result = await client.call_contract(Call(token, selector, [owner]), block_number=block)
            except ClientError as exc:
                if not node_answered(exc):
                    raise
                if error_code(exc) == ENTRYPOINT_NOT_FOUND or "ENTRYPOINT_NOT_FOUND" in str(exc.data or ""):
                    continue  # a token with the camelCase entrypoint only
                return None  # not a token, or it reverted: this one balance is unknown
            if len(result) != 2:
                return None
            return result[0] + (result[1] << 128)
        return None

    def balances(self, queries: list[BalanceQuery]) -> BalanceSnapshot:
        """All (owner, token) balances at one block, read concurrently (at most ``max_concurrency`` at once)."""

        async def read(client: FullNodeClient) -> BalanceSnapshot:
            latest = await client.get_block_hash_and_number()
            gate = asyncio.Semaphore(self.max_concurrency)

            async def one(query: BalanceQuery) -> int | None:
                if query.asset_address.lower() == NATIVE_ADDRESS:
                    return None  # Starknet has no native coin outside ERC-20 contracts
                async with gate:
                    return await self._balance(
                        client, int(query.asset_address, 16), int(query.owner, 16), latest.block_number
                    )

            amounts = await asyncio.gather(*(one(q) for q in queries))
            return BalanceSnapshot(
                block=BlockRef(number=latest.block_number, hash=felt(latest.block_hash)),
                balances=dict(zip(queries, amounts, strict=True)),
            )

        return self.run(read)

    # --- transfers -----------------------------------------------------------------------------------------

    def fee_asset(self) -> AssetRef:
        contract = normalize_starknet(self.options.get("fee_token", STRK_ADDRESS))
        return AssetRef(symbol="STRK", contract=contract, decimals=18)

    def validate_address(self, address: str) -> str:
        return normalize_starknet(address)

    def prepare_transfer(self, intent: TransferIntent) -> PreparedTransfer:
        if intent.asset.contract is None:
            raise InvalidInput("unknown_asset", f"{intent.asset.symbol} is not a token on {self.chain.name}.")
        sender, recipient = self.validate_address(intent.sender), self.validate_address(intent.recipient)
        low, high = intent.amount_base % U128, intent.amount_base // U128
        # Felts in RPC form (no leading zeros, as the spec's FELT pattern wants).
        calls = [{"contract_address": felt(int(intent.asset.contract, 16)), "entrypoint": "transfer",
                  "calldata": [felt(int(recipient, 16)), felt(low), felt(high)]}]  # fmt: skip
        calldata = execute_calldata(calls)
        fee_token = self.fee_asset()

        async def read(client: FullNodeClient):
            latest = await client.get_block_hash_and_number()
            nonce = await client.get_contract_nonce(int(sender, 16), block_number=latest.block_number)
            token_balance = await self._balance(
                client, int(intent.asset.contract, 16), int(sender, 16), latest.block_number
            )
            fee_balance = (
                token_balance
                if intent.asset.contract == fee_token.contract
                else await self._balance(client, int(fee_token.contract, 16), int(sender, 16), latest.block_number)
            )
            if token_balance is None:
                raise InvalidInput("balance_unreadable", f"{intent.asset.symbol} did not answer balance_of.")
            require_funds(
                token_balance, intent.amount_base, intent.asset, "to send"
            )  # before a fee estimate that reverts
            probe = InvokeV3(
                version=3,
                signature=[],
                nonce=nonce,
                resource_bounds=ResourceBoundsMapping.init_with_zeros(),
                calldata=calldata,
                sender_address=int(sender, 16),
                tip=0,
            )
            try:
                estimate = await client.estimate_fee(probe, skip_validate=True, block_number=latest.block_number)
            except ClientError as exc:
                if not node_answered(exc):
                    raise
                reason = _execution_reason(exc)
                if error_code(exc) == CONTRACT_NOT_FOUND:
                    raise InvalidInput(
                        "account_not_deployed", f"The account {sender} is not deployed on {self.chain.name}."
                    ) from None
                raise InvalidInput(
                    "transaction_would_fail", f"The network refuses this transaction: {reason}", {"reason": reason}
                ) from None
            return nonce, token_balance, fee_balance, estimate

        nonce, _, fee_balance, estimate = self.run(read)
        margin = self.options.get("fee_margin_percent", 50)
        bounds = _bounds_with_margin(estimate, int(margin))
        fee_max = _max_fee(bounds)
        needed = fee_max + (intent.amount_base if intent.asset.contract == fee_token.contract else 0)
        if fee_balance is None:
            raise InvalidInput("balance_unreadable", f"{fee_token.symbol} did not answer balance_of.")
        require_funds(fee_balance, needed, fee_token, "for the amount and the network fee")
        return PreparedTransfer(
            unsigned={
                "type": "INVOKE",
                "version": "0x3",
                "chain_id": felt(self.chain_id),
                "sender_address": felt(int(sender, 16)),
                "nonce": felt(nonce),
                "calls": calls,
                "calldata": [felt(x) for x in calldata],
                "resource_bounds": _bounds_json(bounds),
                "tip": "0x0",
            },
            fee_asset=fee_token,
            fee_expected_base=estimate.overall_fee,
            fee_max_base=fee_max,
            fee_details={
                "unit": "FRI",
                "l1_gas_consumed": str(estimate.l1_gas_consumed),
                "l1_gas_price": str(estimate.l1_gas_price),
                "l2_gas_consumed": str(estimate.l2_gas_consumed),
                "l2_gas_price": str(estimate.l2_gas_price),
                "l1_data_gas_consumed": str(estimate.l1_data_gas_consumed),
                "l1_data_gas_price": str(estimate.l1_data_gas_price),
            },
        )

    def decode_signed(self, signed: Any) -> Submission:
        """A signed INVOKE v3 (the spec's BROADCASTED_INVOKE_TXN, as wallets and starknet-py produce it)."""
        if isinstance(signed, str):
            try:
                signed = json.loads(signed)
            except ValueError:
                signed = None
        if not isinstance(signed, dict):
            raise InvalidInput(
                "invalid_signed_transaction", "signed_transaction must be a signed INVOKE v3 transaction object."
            )
        payload = _canonical_felts(signed)
        stated_chain = payload.pop("chain_id", None)
        if stated_chain is not None:
            try:
                stated = chain_id_felt(stated_chain)
            except (TypeError, ValueError, UnicodeError):
                stated = None
            if stated != self.chain_id:
                raise InvalidInput(
                    "chain_id_mismatch",
                    f"The transaction is signed for chain {stated_chain}; {self.chain.name} is {self.chain.chain_id}.",
                    {"signed_chain_id": str(stated_chain), "network_chain_id": str(self.chain.chain_id)},
                )
        if payload.get("type") != "INVOKE" or str(payload.get("version", "")).lower() != "0x3":
            raise InvalidInput("invalid_signed_transaction", "Only INVOKE v3 transactions (version 0x3) are accepted.")
        try:
            tx = BroadcastedInvokeTransactionV3Schema().load({k: v for k, v in payload.items() if k != "type"})
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(
                "invalid_signed_transaction", "signed_transaction is not a valid INVOKE v3 transaction.",
                {"reason": str(exc)[:500]},
            ) from None  # fmt: skip
        tx_hash = compute_invoke_v3_transaction_hash(
            account_deployment_data=tx.account_deployment_data,
            calldata=tx.calldata,
            common_fields=CommonTransactionV3Fields(
                tx_prefix=TransactionHashPrefix.INVOKE,
                version=3,
                address=tx.sender_address,
                tip=tx.tip,
                resource_bounds=tx.resource_bounds,
                paymaster_data=tx.paymaster_data,
                chain_id=self.chain_id,
                nonce=tx.nonce,
                nonce_data_availability_mode=tx.nonce_data_availability_mode or DAMode.L1,
                fee_data_availability_mode=tx.fee_data_availability_mode or DAMode.L1,
            ),
            proof_facts=tx.proof_facts,
        )
        contract, recipient, amount = _single_transfer(tx.calldata)
        return Submission(
            tx_hash=f"0x{tx_hash:064x}",
            sender=f"0x{tx.sender_address:064x}",
            recipient=recipient,
            contract=contract,
            amount_base=amount,
            nonce=tx.nonce,
            raw=json.dumps(payload, separators=(",", ":")),
            fee_max_base=_max_fee(tx.resource_bounds),
        )

    def send(self, submission: Submission) -> str:
        payload = json.loads(submission.raw)

        async def add(client: FullNodeClient) -> str:
            try:
                result = await client._client.call(
                    method_name="addInvokeTransaction", params={"invoke_transaction": payload}
                )
            except ClientError as exc:
                if not node_answered(exc):
                    raise
                code = error_code(exc)
                if code == DUPLICATE_TX:
                    return submission.tx_hash  # sent before (a retry, or the wallet sent it too)
                detail = _execution_reason(exc)
                raise InvalidInput(
                    _REFUSALS.get(code, "transaction_rejected"),
                    f"The node refused the transaction: {detail}",
                    {"node_code": code, "node_message": detail},
                ) from None
            return f"0x{int(result['transaction_hash'], 16):064x}"

        sent = self.run(add)
        if sent != submission.tx_hash:
            # The node is the judge of its own hashes: the caller records this one, and we want to know why.
            logger.error("Node hash %s differs from the computed %s", sent, submission.tx_hash)
        return sent

    def lookup(self, tx_hash: str) -> Submission | None:
        async def read(client: FullNodeClient) -> dict | None:
            try:
                return await client._client.call(
                    method_name="getTransactionByHash", params={"transaction_hash": felt(int(tx_hash, 16))}
                )
            except ClientError as exc:
                if node_answered(exc) and error_code(exc) == TXN_HASH_NOT_FOUND:
                    return None
                raise

        found = self.run(read)
        if found is None:
            return None
        if found.get("type") != "INVOKE":
            raise InvalidInput("unsupported_transaction", "Only INVOKE transactions can be tracked.")
        calldata = [int(x, 16) for x in found.get("calldata", [])]
        contract, recipient, amount = _single_transfer(calldata)
        return Submission(
            tx_hash=f"0x{int(tx_hash, 16):064x}",
            sender=f"0x{int(found['sender_address'], 16):064x}",
            recipient=recipient,
            contract=contract,
            amount_base=amount,
            nonce=int(found["nonce"], 16) if found.get("nonce") else None,
        )

    def normalize_tx_hash(self, tx_hash: str) -> str:
        """A felt below the field prime, written 0x + 64 digits (the spelling stored)."""
        value = tx_hash.strip().lower() if isinstance(tx_hash, str) else ""
        if not _HEX_FELT.match(value) or int(value, 16) >= FIELD_PRIME:
            raise InvalidInput("invalid_tx_hash", "A Starknet transaction hash is a felt: 0x and up to 64 hex digits.")
        return f"0x{int(value, 16):064x}"

    def sweep_context(self) -> None:
        return None

    def observe(
        self, submission: Submission, *, previous: Observation | None = None, context: Any = None
    ) -> Observation:
        async def read(client: FullNodeClient) -> Observation:
            try:
                status = await client.get_transaction_status(int(submission.tx_hash, 16))
            except ClientError as exc:
                if not (node_answered(exc) and error_code(exc) == TXN_HASH_NOT_FOUND):
                    raise
                if submission.nonce is not None:
                    used = await client.get_contract_nonce(int(submission.sender, 16), block_number="latest")
                    if used > submission.nonce:
                        return Observation(
                            status=TxStatus.DROPPED, found=False, final=True,
                            note=f"dropped: nonce {submission.nonce} used by another transaction",
                        )  # fmt: skip
                return Observation(status=TxStatus.PENDING, found=False)
            finality = status.finality_status
            if finality in (TransactionStatus.RECEIVED, TransactionStatus.CANDIDATE, TransactionStatus.PRE_CONFIRMED):
                if status.execution_status == TransactionExecutionStatus.REVERTED:
                    # Executed in the pre-confirmed block and reverted: failed already, not final until L1.
                    reason = status.failure_reason or "reverted"
                    return Observation(status=TxStatus.FAILED, revert_reason=reason, note=f"finality {finality.value}")
                return Observation(status=TxStatus.PENDING, note=f"finality {finality.value}")
            receipt = await client.get_transaction_receipt(int(submission.tx_hash, 16))
            latest = await client.get_block_hash_and_number()
            block = await client.get_block_with_tx_hashes(block_number=receipt.block_number)
            on_l1 = receipt.finality_status == TransactionFinalityStatus.ACCEPTED_ON_L1
            reverted = receipt.execution_status == TransactionExecutionStatus.REVERTED
            state = TxStatus.FAILED if reverted else TxStatus.FINALIZED if on_l1 else TxStatus.CONFIRMED
            return Observation(
                status=state,
                block_number=receipt.block_number,
                block_hash=None if receipt.block_hash is None else f"0x{receipt.block_hash:064x}",
                block_timestamp=getattr(block, "timestamp", None),
                confirmations=max(1, latest.block_number - (receipt.block_number or 0) + 1),
                fee_paid_base=receipt.actual_fee.amount if receipt.actual_fee else None,
                final=on_l1,
                revert_reason=(receipt.revert_reason or "reverted") if reverted else "",
                note=f"finality {receipt.finality_status.value}",
            )

        return self.run(read)


def _single_transfer(calldata: list[int]) -> tuple[str | None, str | None, int | None]:
    """(token, recipient, amount) when the calldata is exactly one ERC-20 ``transfer``; else Nones."""
    calls = parse_execute_calldata(calldata)
    if not calls or len(calls) != 1:
        return None, None, None
    to, selector, data = calls[0]
    if selector != TRANSFER or len(data) != 3 or data[1] >= U128 or data[2] >= U128:
        return None, None, None
    return f"0x{to:064x}", f"0x{data[0]:064x}", data[1] + (data[2] << 128)


_FELT_FIELDS = ("sender_address", "nonce", "tip")
_FELT_LISTS = ("calldata", "signature", "paymaster_data", "account_deployment_data", "proof_facts")


def _canonical_felts(signed: dict) -> dict:
    """The transaction with every felt written as the spec's FELT pattern wants (no leading zeros), so a wallet's
    padded spelling neither fails parsing nor reaches the node as is. Anything malformed is left for the parser."""

    def canon(value: Any) -> Any:
        if isinstance(value, str) and value.lower().startswith("0x") and len(value) <= 66:
            try:
                return hex(int(value, 16))
            except ValueError:
                return value
        return value

    payload = dict(signed)
    for name in _FELT_FIELDS:
        payload[name] = canon(payload.get(name)) if name in payload else None
        if payload[name] is None:
            payload.pop(name)
    for name in _FELT_LISTS:
        if isinstance(payload.get(name), list):
            payload[name] = [canon(item) for item in payload[name]]
    if isinstance(payload.get("resource_bounds"), dict):
        payload["resource_bounds"] = {
            key: {k: canon(v) for k, v in bound.items()} if isinstance(bound, dict) else bound
            for key, bound in payload["resource_bounds"].items()
        }
    return payload


def _bounds_with_margin(estimate: Any, margin_percent: int) -> ResourceBoundsMapping:
    """Resource bounds from a fee estimate, amounts and prices raised by ``margin_percent`` (integer arithmetic)."""

    def up(value: int) -> int:
        return -(-value * (100 + margin_percent) // 100)

    return ResourceBoundsMapping(
        l1_gas=ResourceBounds(up(estimate.l1_gas_consumed), up(estimate.l1_gas_price)),
        l1_data_gas=ResourceBounds(up(estimate.l1_data_gas_consumed), up(estimate.l1_data_gas_price)),
        l2_gas=ResourceBounds(up(estimate.l2_gas_consumed), up(estimate.l2_gas_price)),
    )


def _max_fee(bounds: ResourceBoundsMapping) -> int:
    return sum(b.max_amount * b.max_price_per_unit for b in (bounds.l1_gas, bounds.l1_data_gas, bounds.l2_gas))


def _bounds_json(bounds: ResourceBoundsMapping) -> dict[str, dict[str, str]]:
    def one(b: ResourceBounds) -> dict[str, str]:
        return {"max_amount": felt(b.max_amount), "max_price_per_unit": felt(b.max_price_per_unit)}

    return {"l1_gas": one(bounds.l1_gas), "l1_data_gas": one(bounds.l1_data_gas), "l2_gas": one(bounds.l2_gas)}


def _execution_reason(exc: ClientError) -> str:
    """The innermost error text of a node refusal (errors nest per call frame: account → token)."""
    data = exc.data
    while isinstance(data, dict):
        inner = data.get("execution_error", data.get("revert_error", data.get("error")))
        if inner is None:
            break
        data = inner
    return str(data if data else exc.message)[:500]
