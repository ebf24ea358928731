"""The transfer side of the EVM client (``TransferClient``): EIP-1559 transactions for native and ERC-20
transfers, signed-transaction checks, sending, and following a transaction to finality through reorgs, drops and
node restarts (DESIGN.md sections 1 and 2)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from eth_utils import is_checksum_address, to_checksum_address
from web3 import Web3

from apps.chains.registry import native_symbol
from apps.chains.units import from_base_units
from engipay.api.errors import InvalidInput

from . import evm_rpc as rpc
from .base import AssetRef, Observation, PreparedTransfer, Submission, TransferIntent, TxStatus, require_funds

logger = logging.getLogger(__name__)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")

# Node refusals worth a stable code; anything else is `transaction_rejected` with the node's words.
_NODE_REFUSALS = [
    ("nonce too low", "nonce_too_low"),
    ("nonce too high", "nonce_too_high"),
    ("underpriced", "replacement_underpriced"),
    ("insufficient funds", "insufficient_funds"),
    ("intrinsic gas too low", "gas_too_low"),
    ("fee cap less than block base fee", "fee_too_low"),
    ("max fee per gas less than block base fee", "fee_too_low"),
    ("exceeds block gas limit", "gas_too_high"),
]


@dataclass(frozen=True)
class Heads:
    head: int
    finalized: int  # the highest final block (the node's `finalized` tag, or a configured depth)


class EvmTransfers:
    """Mixed into ``EvmClient`` (which provides ``chain`` and the failover transport ``call``)."""

    # --- addresses and assets ------------------------------------------------------------------------------

    def fee_asset(self) -> AssetRef:
        return AssetRef(symbol=native_symbol(self.chain), contract=None, decimals=18)

    def validate_address(self, address: str) -> str:
        """0x + 40 hex digits; mixed case must be a valid EIP-55 checksum (a wrong one is a typo, and this is
        where money goes). Returns the checksummed spelling."""
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise InvalidInput("invalid_address", "Not an EVM address (0x followed by 40 hex digits).")
        digits = address[2:]
        if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(address):
            raise InvalidInput(
                "invalid_address", "The address's EIP-55 checksum is wrong (mixed case): check for a typo."
            )
        return to_checksum_address(address)

    def normalize_tx_hash(self, tx_hash: str) -> str:
        value = tx_hash.strip().lower() if isinstance(tx_hash, str) else ""
        if not _HASH.match(value):
            raise InvalidInput("invalid_tx_hash", "An EVM transaction hash is 0x followed by 64 hex digits.")
        return value

    # --- prepare -------------------------------------------------------------------------------------------

    def prepare_transfer(self, intent: TransferIntent) -> PreparedTransfer:
        """An unsigned EIP-1559 transaction (JSON-RPC quantities: 0x-hex strings, as eth-account and EIP-1193 wallets
        take them) and its fee; refuses an amount or fee the sender cannot pay."""
        sender, recipient, asset = intent.sender, intent.recipient, intent.asset
        if asset.contract is None:
            to, value, data = recipient, intent.amount_base, b""
        else:
            to, value, data = asset.contract, 0, rpc.erc20_transfer_data(recipient, intent.amount_base)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getTransactionCount", [sender, "pending"]),
            ("eth_getBalance", [sender, "latest"]),
            ("eth_feeHistory", [hex(settings.TX_FEE_HISTORY_BLOCKS), "latest", [settings.TX_PRIORITY_FEE_PERCENTILE]]),
        ]
        if asset.contract is not None:
            owner = Web3.to_bytes(hexstr=sender).rjust(32, b"\0")
            calls.append(
                ("eth_call", [{"to": asset.contract, "data": "0x" + (rpc.BALANCE_OF + owner).hex()}, "latest"])
            )
        results = rpc.rpc_batch(self, calls)
        nonce, native_balance = rpc.qty(results[0]), rpc.qty(results[1])
        base_fee, priority_fee = fees_from_history(results[2])
        if asset.contract is not None:
            token_balance = int(results[3], 16) if results[3] not in (None, "0x") else 0
            require_funds(token_balance, intent.amount_base, asset, "to send")

        estimate = self._estimate_gas({"from": sender, "to": to, "value": hex(value), "data": "0x" + data.hex()})
        margin = 100 + settings.TX_GAS_MARGIN_PERCENT
        gas = estimate if estimate == rpc.PLAIN_TRANSFER_GAS else -(-estimate * margin // 100)
        max_fee = 2 * base_fee + priority_fee
        fee = self.fee_asset()
        require_funds(native_balance, value + gas * max_fee, fee, "for the amount and the network fee")
        return PreparedTransfer(
            unsigned={
                "type": "0x2",
                "chainId": hex(int(self.chain.chain_id)),
                "from": sender,
                "nonce": hex(nonce),
                "to": to,
                "value": hex(value),
                "data": "0x" + data.hex(),
                "gas": hex(gas),
                "maxFeePerGas": hex(max_fee),
                "maxPriorityFeePerGas": hex(priority_fee),
            },
            fee_asset=fee,
            fee_expected_base=estimate * (base_fee + priority_fee),
            fee_max_base=gas * max_fee,
            fee_details={
                "gas_limit": str(gas),
                "gas_estimate": str(estimate),
                "base_fee_per_gas": from_base_units(base_fee, 9),
                "max_priority_fee_per_gas": from_base_units(priority_fee, 9),
                "max_fee_per_gas": from_base_units(max_fee, 9),
            },
        )

    def _estimate_gas(self, call: dict[str, Any]) -> int:
        try:
            return rpc.qty(rpc.rpc(self, "eth_estimateGas", [call]))
        except rpc.NodeError as exc:
            data = rpc.revert_data(exc)
            reason = rpc.revert_reason(data) if data else exc.message
            raise InvalidInput(
                "transaction_would_fail", f"The network refuses this transaction: {reason}", {"reason": reason}
            ) from None

    # --- signed transactions -------------------------------------------------------------------------------

    def decode_signed(self, signed: Any) -> Submission:
        if not isinstance(signed, str):
            raise InvalidInput(
                "invalid_signed_transaction", "signed_transaction must be the signed raw transaction (hex)."
            )
        decoded = rpc.decode_signed(signed if signed.startswith("0x") else "0x" + signed)
        if decoded.chain_id != int(self.chain.chain_id):
            raise InvalidInput(
                "chain_id_mismatch",
                f"The transaction is signed for chain id {decoded.chain_id}; "
                f"{self.chain.name} is {self.chain.chain_id}.",
                {"signed_chain_id": decoded.chain_id, "network_chain_id": int(self.chain.chain_id)},
            )
        contract, recipient, amount = _transfer_of(decoded.to, decoded.value, decoded.data)
        return Submission(
            tx_hash=decoded.tx_hash,
            sender=decoded.sender,
            recipient=recipient,
            contract=contract,
            amount_base=amount,
            nonce=decoded.nonce,
            raw=signed,
            fee_max_base=decoded.gas * decoded.max_fee_per_gas,
            fee_terms=_terms(decoded.gas, decoded.max_fee_per_gas, decoded.max_priority_fee_per_gas),
        )

    def send(self, submission: Submission) -> str:
        try:
            rpc.rpc(self, "eth_sendRawTransaction", [submission.raw])
        except rpc.NodeError as exc:
            # Sent before (a retry after a lost response, or the wallet sent it too): the node has it, so it counts.
            if rpc.rpc(self, "eth_getTransactionByHash", [submission.tx_hash]) is not None:
                return submission.tx_hash
            lowered = exc.message.lower()
            code = next((code for needle, code in _NODE_REFUSALS if needle in lowered), "transaction_rejected")
            raise InvalidInput(
                code, f"The node refused the transaction: {exc.message}", {"node_message": exc.message}
            ) from None
        return submission.tx_hash

    def lookup(self, tx_hash: str) -> Submission | None:
        found = rpc.rpc(self, "eth_getTransactionByHash", [tx_hash])
        if found is None:
            return None
        data = bytes(Web3.to_bytes(hexstr=found["input"]))
        contract, recipient, amount = _transfer_of(found.get("to"), rpc.qty(found["value"]), data)
        max_fee = rpc.qty(found.get("maxFeePerGas") or found.get("gasPrice"))
        return Submission(
            tx_hash=tx_hash,
            sender=to_checksum_address(found["from"]),
            recipient=recipient,
            contract=contract,
            amount_base=amount,
            nonce=rpc.qty(found["nonce"]),
            fee_max_base=None if max_fee is None else rpc.qty(found["gas"]) * max_fee,
            fee_terms=_terms(rpc.qty(found["gas"]), max_fee, rpc.qty(found.get("maxPriorityFeePerGas"))),
        )

    # --- tracking ------------------------------------------------------------------------------------------

    def sweep_context(self) -> Heads:
        """(head, highest final block): the node's `finalized` tag, or a depth where configured or needed."""
        depth = settings.CHAINS.get(self.chain.key, {}).get("finality_depth")
        if depth:
            head = rpc.qty(rpc.rpc(self, "eth_blockNumber", []))
            return Heads(head, head - int(depth) + 1)
        try:
            head_hex, final_block = rpc.rpc_batch(
                self, [("eth_blockNumber", []), ("eth_getBlockByNumber", ["finalized", False])]
            )
        except rpc.NodeError:  # -39001 unknown block: no finality gadget (pre-Merge, some L2s)
            head = rpc.qty(rpc.rpc(self, "eth_blockNumber", []))
            return Heads(head, head - settings.TX_FINALITY_FALLBACK_DEPTH + 1)
        return Heads(rpc.qty(head_hex), rpc.qty(final_block["number"]) if final_block else -1)

    def observe(
        self, submission: Submission, *, previous: Observation | None = None, context: Heads | None = None
    ) -> Observation:
        heads = context or self.sweep_context()
        receipt = rpc.rpc(self, "eth_getTransactionReceipt", [submission.tx_hash])
        if receipt is None:
            return self._not_in_a_block(submission)
        number, block_hash = rpc.qty(receipt["blockNumber"]), receipt["blockHash"]
        if previous is not None and previous.block_hash == block_hash and previous.block_timestamp is not None:
            timestamp = previous.block_timestamp
        else:
            block = rpc.rpc(self, "eth_getBlockByHash", [block_hash, False])
            timestamp = rpc.qty(block["timestamp"]) if block else None
        gas_used = rpc.qty(receipt["gasUsed"])
        price = rpc.qty(receipt.get("effectiveGasPrice"))
        confirmations = max(1, heads.head - number + 1)
        final = number <= heads.finalized
        reason = ""
        if confirmations < self.chain.confirmations:
            status, final = TxStatus.PENDING, False
        elif rpc.qty(receipt["status"]) == 0:
            status = TxStatus.FAILED
            same_block = previous is not None and previous.block_hash == block_hash and previous.revert_reason
            reason = previous.revert_reason if same_block else self._why_reverted(submission, number, gas_used)
        else:
            status = TxStatus.FINALIZED if final else TxStatus.CONFIRMED
        return Observation(
            status=status,
            block_number=number,
            block_hash=block_hash,
            block_timestamp=timestamp,
            confirmations=confirmations,
            fee_paid_base=None if price is None else gas_used * price,
            final=final and status in (TxStatus.FINALIZED, TxStatus.FAILED),
            revert_reason=reason,
            fee_terms={"gas_used": gas_used, **({} if price is None else {"effective_gas_price": price})},
        )

    def _not_in_a_block(self, submission: Submission) -> Observation:
        if rpc.rpc(self, "eth_getTransactionByHash", [submission.tx_hash]) is not None:
            return Observation(status=TxStatus.PENDING)  # in the mempool
        used = rpc.qty(rpc.rpc(self, "eth_getTransactionCount", [submission.sender, "latest"]))
        # Nonce used: by a replacement, unless ours was mined between our two reads (then the receipt is there).
        if submission.nonce is not None and used > submission.nonce:
            if rpc.rpc(self, "eth_getTransactionReceipt", [submission.tx_hash]) is not None:
                return Observation(status=TxStatus.PENDING)  # just mined: the next sweep reads its receipt
            return Observation(
                status=TxStatus.DROPPED,
                found=False,
                final=True,
                note=f"dropped: nonce {submission.nonce} used by another transaction",
            )
        # The node does not know it (a reorg put it back, or a restart emptied the mempool): the caller re-sends.
        return Observation(status=TxStatus.PENDING, found=False)

    def _why_reverted(self, submission: Submission, number: int, gas_used: int) -> str:
        """Replay the call on the state before its block; the node's revert data says why."""
        sent = rpc.rpc(self, "eth_getTransactionByHash", [submission.tx_hash])
        if sent is None:
            return "execution reverted"
        if gas_used == rpc.qty(sent["gas"]):
            return "out of gas"
        call = {
            "from": submission.sender,
            "to": sent.get("to"),
            "value": sent["value"],
            "data": sent["input"],
            "gas": sent["gas"],
        }
        try:
            rpc.rpc(self, "eth_call", [call, hex(max(number - 1, 0))])
        except rpc.NodeError as exc:
            data = rpc.revert_data(exc)
            return rpc.revert_reason(data) if data else exc.message
        return "execution reverted (the reason could not be reproduced)"


def _transfer_of(to: str | None, value: int, data: bytes) -> tuple[str | None, str | None, int | None]:
    """(token contract or None for native, recipient, amount) of a native payment or an ERC-20 ``transfer``;
    all None for anything else (a contract call, a deployment)."""
    if to is None:
        return None, None, None
    to = to_checksum_address(to)
    if not data:
        return None, to, value
    call = rpc.erc20_transfer_decode(data)
    if call is None or value != 0:
        return None, None, None
    return to, call[0], call[1]


def _terms(gas: int | None, max_fee: int | None, priority: int | None) -> dict[str, int]:
    terms = {"gas_limit": gas, "max_fee_per_gas": max_fee, "max_priority_fee_per_gas": priority}
    return {key: value for key, value in terms.items() if value is not None}


def fees_from_history(history: dict[str, Any]) -> tuple[int, int]:
    """(next block's base fee, priority fee): the median of the chosen reward percentile over recent blocks."""
    base_fee = rpc.qty(history["baseFeePerGas"][-1])
    rewards = sorted(rpc.qty(row[0]) for row in history.get("reward") or [] if row)
    median = rewards[len(rewards) // 2] if rewards else 0
    return base_fee, max(median, settings.TX_MIN_PRIORITY_FEE_WEI)
