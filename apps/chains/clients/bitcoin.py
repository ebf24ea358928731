"""Bitcoin through an Esplora REST API (Blockstream/esplora ``API.md``): timeouts, retries, failover across base URLs.

Amounts are int satoshis; JSON is parsed with ``parse_float=Decimal``. Transfers are non-custodial: the server builds
an unsigned PSBT (BIP-174) for the wallet, reads the signed raw transaction back, broadcasts it and follows it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, TypeVar

import httpx
from django.conf import settings
from embit import base58, bech32
from embit.networks import NETWORKS
from embit.psbt import PSBT
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from apps.chains.models import NATIVE_ADDRESS
from apps.chains.registry import ChainConfig
from apps.chains.units import from_base_units
from engipay.api.errors import ApplicationError, ChainUnavailable, InvalidInput, UpstreamError

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

BTC = AssetRef("BTC", None, 8)
# The accepted ``chain_id`` values, exactly: the sign-in code (BIP-122 chain ids) knows these four and no alias.
NETWORK_PARAMS = {
    "mainnet": NETWORKS["main"],
    "testnet": NETWORKS["test"],
    "signet": NETWORKS["signet"],
    "regtest": NETWORKS["regtest"],
}
# Bitcoin Core's dust thresholds at the default dustRelayFee (3000 sat/kvB), by output type.
DUST_THRESHOLD = {"p2pkh": 546, "p2sh": 540, "p2wpkh": 294, "p2wsh": 330, "p2tr": 330}
# Weight units to spend one input of each type we can estimate (outpoint, scriptSig, sequence, witness).
INPUT_WEIGHT = {
    "p2wpkh": 41 * 4 + 108,  # 68 vB: 72-byte signature + 33-byte key in the witness
    "p2tr": 41 * 4 + 66,  # 57.5 vB: one 64-byte Schnorr signature (key path)
    "p2pkh": 148 * 4,  # compressed key in the scriptSig
    "p2sh": 64 * 4 + 108,  # 91 vB: assumed P2SH-P2WPKH, the only single-key P2SH
}
MIN_FEE_RATE = Decimal(1)
RBF_SEQUENCE = 0xFFFFFFFD  # BIP-125 opt-in: every unconfirmed payment is replaceable anyway
MAX_BALANCE_WORKERS = 8
MAX_SIGNED_INPUTS = 200  # a signed transaction with more inputs is refused before any previous one is fetched
MAX_PREVOUT_WORKERS = 8
_TXID = re.compile(r"^[0-9a-f]{64}$")
_ALREADY_KNOWN = ("already in block chain", "txn-already-known", "txn-already-in-mempool", "already in utxo set")


class _Transient(Exception):
    """This endpoint failed (5xx, 429, unparsable answer): try again, then the next URL."""


def _answered(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 500 or response.status_code == 429:
        raise _Transient(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.text, parse_float=Decimal)
    except ValueError as exc:
        raise _Transient(f"not JSON: {response.text[:100]!r}") from exc


@dataclass(frozen=True)
class _Address:
    address: str  # the normalised spelling
    script: Script

    @property
    def kind(self) -> str:
        return self.script.script_type() or "unknown"


class BitcoinClient:
    attempts_per_url = 2
    backoff_seconds = 0.1

    def __init__(self, chain: ChainConfig, *, timeout: float | None = None) -> None:
        if not chain.rpc_urls:
            raise ChainUnavailable(message=f"No Esplora URL configured for {chain.key}.")
        network = chain.chain_id
        if not isinstance(network, str) or network not in NETWORK_PARAMS:
            raise InvalidInput(
                "network_not_supported",
                f"Unknown Bitcoin network {chain.chain_id!r} for {chain.key}: "
                f"chain_id must be one of {', '.join(NETWORK_PARAMS)}.",
                {"chain": chain.key},
            )
        self.chain = chain
        self.network_name = network
        self.network = NETWORK_PARAMS[network]
        options = settings.CHAINS.get(chain.key, {})
        self.finality_depth = int(options.get("finality_depth", 6))
        self.fee_target_blocks = int(options.get("fee_target_blocks", 3))
        self._bases = [url.rstrip("/") for url in chain.rpc_urls]
        self._timeout = timeout or settings.CHAIN_RPC_TIMEOUT_SECONDS
        # Built on first network use: validating an address needs no connection pool.
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def _client(self) -> httpx.Client:
        with self._http_lock:  # balances and decode_signed call from worker threads
            if self._http is None:
                self._http = httpx.Client(timeout=self._timeout)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # --- transport -----------------------------------------------------------------------------------------

    def call(self, method: str, path: str, handle: Callable[[httpx.Response], T], content: str | None = None) -> T:
        """``handle`` the first answer (any status below 500 but 429) of the first base URL that gives one."""
        last: Exception | None = None
        http = self._client()
        for base in self._bases:
            for attempt in range(self.attempts_per_url):
                try:
                    response = http.request(
                        method,
                        base + path,
                        content=content,
                        headers={"Content-Type": "text/plain"} if content else None,
                    )
                    return handle(_answered(response))
                except ApplicationError:
                    raise  # the server answered (a 4xx we turned into an error): another server would say the same
                except (httpx.TransportError, _Transient) as exc:
                    last = exc
                    if attempt + 1 < self.attempts_per_url:
                        time.sleep(self.backoff_seconds * (2**attempt) * (1 + random.random()))  # noqa: S311
        logger.warning("Chain %s unreachable: %r", self.chain.key, last)
        raise ChainUnavailable(
            "chain_unavailable", f"The {self.chain.name} node did not answer.", {"chain": self.chain.key}
        )

    def _refused(self, response: httpx.Response) -> UpstreamError:
        return UpstreamError(
            "upstream_error",
            f"The {self.chain.name} node refused the request: {response.text[:200]}",
            {"chain": self.chain.key, "status": response.status_code},
        )

    def get_json(self, path: str, *, missing_ok: bool = False) -> Any:
        def handle(response: httpx.Response) -> Any:
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code >= 400:
                raise self._refused(response)
            return _json(response)

        return self.call("GET", path, handle)

    def get_text(self, path: str, *, missing_ok: bool = False) -> str | None:
        def handle(response: httpx.Response) -> str | None:
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code >= 400:
                raise self._refused(response)
            return response.text.strip()

        return self.call("GET", path, handle)

    # --- reads ---------------------------------------------------------------------------------------------

    def tip_height(self) -> int:
        text = self.get_text("/blocks/tip/height")
        if not text or not text.isdigit():
            raise ChainUnavailable(
                "chain_unavailable", f"Bad tip height from {self.chain.name}.", {"chain": self.chain.key}
            )
        return int(text)

    def head(self) -> BlockRef:
        height = self.tip_height()
        # The hash of that very height (not /blocks/tip/hash, which may already be the next block).
        block_hash = self.get_text(f"/block-height/{height}", missing_ok=True)
        return BlockRef(number=height, hash=block_hash)

    def _stats(self, address: str) -> tuple[int, int] | None:
        body = self.get_json(f"/address/{address}")
        chain, mempool = body["chain_stats"], body["mempool_stats"]
        return (
            int(chain["funded_txo_sum"]) - int(chain["spent_txo_sum"]),
            int(mempool["funded_txo_sum"]) - int(mempool["spent_txo_sum"]),
        )

    def balances(self, queries: list[BalanceQuery]) -> BalanceSnapshot:
        """Confirmed and mempool balances of every address, read concurrently with the tip height (one round trip
        of wall time)."""
        owners: dict[str, str | None] = {}
        for query in queries:
            if query.asset_address.lower() == NATIVE_ADDRESS and query.owner not in owners:
                owners[query.owner] = self._parse(query.owner, raise_errors=False)
        valid = sorted({a for a in owners.values() if a})
        with ThreadPoolExecutor(max_workers=min(MAX_BALANCE_WORKERS, len(valid) + 1)) as pool:
            tip = pool.submit(self.tip_height)
            stats = dict(zip(valid, pool.map(self._stats, valid), strict=True))
            height = tip.result()
        balances: dict[BalanceQuery, int | None] = {}
        unconfirmed: dict[BalanceQuery, int] = {}
        for query in queries:
            address = owners.get(query.owner) if query.asset_address.lower() == NATIVE_ADDRESS else None
            figures = stats.get(address) if address else None
            balances[query] = figures[0] if figures else None
            if figures:
                unconfirmed[query] = figures[1]
        return BalanceSnapshot(block=BlockRef(number=height), balances=balances, unconfirmed=unconfirmed)

    def fee_rates(self) -> dict[int, Decimal]:
        """Fee rate (sat/vB) by confirmation target (blocks)."""
        body = self.get_json("/fee-estimates") or {}
        return {int(target): Decimal(str(rate)) for target, rate in body.items()}

    def fee_asset(self) -> AssetRef:
        return BTC

    # --- addresses -----------------------------------------------------------------------------------------

    def validate_address(self, address: str) -> str:
        return self._parse_address(address).address

    def _parse(self, address: str, *, raise_errors: bool = True) -> str | None:
        try:
            return self._parse_address(address).address
        except InvalidInput:
            if raise_errors:
                raise
            return None

    def _parse_address(self, address: Any) -> _Address:
        if not isinstance(address, str) or not address.strip():
            raise InvalidInput("invalid_address", "Not a Bitcoin address.")
        address = address.strip()
        lowered = address.lower()
        hrp = lowered[: lowered.rfind("1")] if "1" in lowered else ""
        if hrp in ("bc", "tb", "bcrt"):
            return self._parse_bech32(address, lowered, hrp)
        return self._parse_base58(address)

    def _parse_bech32(self, address: str, lowered: str, hrp: str) -> _Address:
        if address not in (lowered, address.upper()):
            raise InvalidInput("invalid_address", "A bech32 address is all lower-case or all upper-case.")
        version, program = bech32.decode(hrp, lowered)  # checksum, BIP-173 (v0) / BIP-350 (v1+) encoding
        if version is None:
            raise InvalidInput("invalid_address", "Not a valid bech32/bech32m Bitcoin address (checksum or encoding).")
        if version == 1 and len(program) != 32:
            raise InvalidInput("invalid_address", "A Taproot (witness v1) address carries a 32-byte key.")
        if hrp != self.network["bech32"]:
            raise self._wrong_network(address)
        script = Script(bytes([version + 0x50 if version else 0, len(program), *program]))
        return _Address(lowered, script)

    def _parse_base58(self, address: str) -> _Address:
        try:
            data = base58.decode_check(address)
        except Exception:
            raise InvalidInput("invalid_address", "Not a Bitcoin address (bad base58 checksum).") from None
        if len(data) != 21:
            raise InvalidInput("invalid_address", "Not a Bitcoin address.")
        version, payload = data[:1], data[1:]
        if version == self.network["p2pkh"]:
            return _Address(address, Script(b"\x76\xa9\x14" + payload + b"\x88\xac"))
        if version == self.network["p2sh"]:
            return _Address(address, Script(b"\xa9\x14" + payload + b"\x87"))
        if any(version in (net["p2pkh"], net["p2sh"]) for net in NETWORKS.values()):
            raise self._wrong_network(address)
        raise InvalidInput("invalid_address", "Not a Bitcoin address (unknown version byte).")

    def _wrong_network(self, address: str) -> InvalidInput:
        return InvalidInput(
            "wrong_network",
            f"This address belongs to another Bitcoin network than {self.chain.name} ({self.network_name}).",
            {"network": self.network_name, "address": address},
        )

    def address_of(self, script: Script) -> str | None:
        """The address of an output script on this network; None for scripts without one (OP_RETURN...)."""
        try:
            return script.address(self.network) if script.script_type() else None
        except Exception:
            return None

    # --- prepare -------------------------------------------------------------------------------------------

    def _fee_rate(self) -> tuple[Decimal, int]:
        rates = self.fee_rates()
        if not rates:
            return MIN_FEE_RATE, self.fee_target_blocks
        targets = sorted(t for t in rates if t >= self.fee_target_blocks)
        target = targets[0] if targets else max(rates)
        return max(rates[target], MIN_FEE_RATE), target

    @staticmethod
    def _vsize(input_kinds: list[str], output_scripts: list[Script]) -> int:
        segwit = any(kind != "p2pkh" for kind in input_kinds)
        weight = 4 * (4 + 4 + 1 + 1) + (2 if segwit else 0)  # version, locktime, counts; segwit marker+flag
        weight += sum(INPUT_WEIGHT[kind] for kind in input_kinds)
        weight += sum(4 * (8 + 1 + len(script.data)) for script in output_scripts)
        return -(-weight // 4)

    def prepare_transfer(self, intent: TransferIntent) -> PreparedTransfer:
        if intent.asset.contract is not None:
            raise InvalidInput("unknown_asset", "Only BTC can be sent on Bitcoin.", {"asset": intent.asset.symbol})
        sender, recipient = self._parse_address(intent.sender), self._parse_address(intent.recipient)
        if sender.kind not in INPUT_WEIGHT:
            raise InvalidInput("unsupported_address_type", f"Cannot build a transfer from a {sender.kind} address.")
        amount = int(intent.amount_base)
        if amount <= 0:
            raise InvalidInput("invalid_amount", "The amount must be positive.")
        dust = DUST_THRESHOLD.get(recipient.kind, 546)
        if amount < dust:
            raise InvalidInput(
                "amount_below_dust",
                f"Bitcoin refuses outputs below {dust} sats to this address type.",
                {"minimum": from_base_units(dust, 8), "asset": "BTC"},
            )
        rate, target = self._fee_rate()
        utxos = self.get_json(f"/address/{sender.address}/utxo") or []
        utxos.sort(key=lambda u: (not u.get("status", {}).get("confirmed", False), -int(u["value"])))
        selected, outputs, fee, vsize = self._select(utxos, sender, recipient, amount, rate)
        psbt = self._psbt(sender, selected, outputs)
        unsigned = {
            "psbt": psbt.to_base64(),
            "inputs": [{"txid": u["txid"], "vout": int(u["vout"]), "value": str(int(u["value"]))} for u in selected],
            "outputs": [{"address": address, "value": str(value)} for address, _, value in outputs],
            "fee_rate_sat_vb": str(rate),
            "vsize": vsize,
        }
        return PreparedTransfer(
            unsigned=unsigned,
            fee_asset=BTC,
            fee_expected_base=fee,
            fee_max_base=fee,
            fee_details={"fee_rate_sat_vb": str(rate), "vsize": vsize, "target_blocks": target},
        )

    def _select(
        self, utxos: list[dict], sender: _Address, recipient: _Address, amount: int, rate: Decimal
    ) -> tuple[list[dict], list[tuple[str, Script, int]], int, int]:
        """Largest first (confirmed before unconfirmed); change back to the sender unless it would be dust."""
        selected: list[dict] = []
        total = 0
        change_dust = DUST_THRESHOLD.get(sender.kind, 546)
        for utxo in utxos:
            selected.append(utxo)
            total += int(utxo["value"])
            kinds = [sender.kind] * len(selected)
            with_change = self._vsize(kinds, [recipient.script, sender.script])
            change = total - amount - self._fee(rate, with_change)
            if change >= change_dust:
                outputs = [(recipient.address, recipient.script, amount), (sender.address, sender.script, change)]
                return selected, outputs, total - amount - change, with_change
            without = self._vsize(kinds, [recipient.script])
            if total >= amount + self._fee(rate, without):
                return selected, [(recipient.address, recipient.script, amount)], total - amount, without
        needed = amount + self._fee(rate, self._vsize([sender.kind] * max(len(utxos), 1), [recipient.script]))
        require_funds(total, needed, BTC, "for the amount and the network fee")
        # Enough in total, yet no selection pays amount + fee (every extra input adds to the fee): still short.
        raise InvalidInput(
            "insufficient_funds",
            "Not enough BTC for this amount and the fee of the inputs it needs.",
            {"asset": "BTC", "required": from_base_units(needed, 8), "available": from_base_units(total, 8)},
        )

    @staticmethod
    def _fee(rate: Decimal, vsize: int) -> int:
        return int((rate * vsize).to_integral_value(rounding=ROUND_CEILING))

    def _psbt(self, sender: _Address, selected: list[dict], outputs: list[tuple[str, Script, int]]) -> PSBT:
        vin = [TransactionInput(bytes.fromhex(u["txid"]), int(u["vout"]), sequence=RBF_SEQUENCE) for u in selected]
        vout = [TransactionOutput(value, script) for _, script, value in outputs]
        psbt = PSBT(Transaction(version=2, vin=vin, vout=vout, locktime=0))
        for scope, utxo in zip(psbt.inputs, selected, strict=True):
            if sender.kind == "p2pkh":
                # Legacy signers need the whole previous transaction to trust the input's value.
                raw = self.get_text(f"/tx/{utxo['txid']}/hex")
                scope.non_witness_utxo = Transaction.from_string(raw)
            else:
                scope.witness_utxo = TransactionOutput(int(utxo["value"]), sender.script)
        return psbt

    # --- signed transactions -------------------------------------------------------------------------------

    @staticmethod
    def _parse_raw(signed: Any) -> Transaction:
        invalid = InvalidInput("invalid_signed_transaction", "Not a signed Bitcoin transaction (raw hex).")
        if isinstance(signed, dict):
            signed = signed.get("raw") or signed.get("hex") or signed.get("signed_transaction")
        if not isinstance(signed, str):
            raise invalid
        try:
            raw = bytes.fromhex(signed.strip())
            tx = Transaction.parse(raw)
        except Exception:
            raise invalid from None
        # embit reads past the end as zeros: a re-serialisation that differs means trailing or missing bytes.
        if tx.serialize() != raw or not tx.vin or not tx.vout:
            raise invalid
        return tx

    def _transfer(
        self, inputs: list[tuple[str, str | None]], outputs: list[tuple[Script, int]], *, no_address: str
    ) -> tuple[str, str | None, int | None]:
        """(sender, recipient, amount) of a plain payment, else InvalidInput.

        ``inputs``: (scriptPubKey hex, address) of each spent output; all of them must be one address, the sender's.
        ``outputs``: every output pays either one recipient address (possibly in several outputs, summed), or the
        sender (change), or is a zero-value OP_RETURN. All to the sender: a self-transfer (recipient = sender).
        ``no_address``: the error code when an input spends no address (coinbase, non-standard script).
        """
        spent = set(inputs)
        if any(not address for _, address in spent):
            raise InvalidInput(no_address, "An input of the transaction does not spend an address.")
        if len(spent) > 1:
            raise InvalidInput(
                "mixed_inputs",
                "The transaction spends the outputs of several addresses; only one sender is supported.",
                {"senders": sorted({address for _, address in spent})},
            )
        sender_script, sender_hint = next(iter(spent))
        sender = self.address_of(Script(bytes.fromhex(sender_script))) or str(sender_hint)
        recipient: str | None = None
        paid = change = 0
        for script, value in outputs:
            if script.data.hex() == sender_script:
                change += value
                continue
            if script.data[:1] == b"\x6a" and value == 0:
                continue  # OP_RETURN data, no value: allowed
            address = self.address_of(script)
            if address is not None and recipient in (None, address):
                recipient = address
                paid += value
                continue
            shown = address or f"script {script.data.hex()[:80]}"
            raise InvalidInput(
                "unexpected_output",
                f"The transaction also pays {from_base_units(value, 8)} BTC to {shown}: only one recipient, "
                "change back to the sender and zero-value OP_RETURN outputs are accepted.",
                {"address": address, "value": str(value), **({} if address else {"script": script.data.hex()})},
            )
        if recipient is not None:
            return sender, recipient, paid
        if any(script.data.hex() == sender_script for script, _ in outputs):
            return sender, sender, change  # a self-transfer
        return sender, None, None

    def _prevouts(self, tx: Transaction) -> list[dict]:
        """The outputs the inputs spend, each previous transaction fetched once, a few at a time."""
        if len(tx.vin) > MAX_SIGNED_INPUTS:
            raise InvalidInput(
                "too_many_inputs",
                f"The transaction has {len(tx.vin)} inputs; at most {MAX_SIGNED_INPUTS} are accepted.",
                {"inputs": len(tx.vin), "maximum": MAX_SIGNED_INPUTS},
            )
        txids = list(dict.fromkeys(inp.txid.hex() for inp in tx.vin))

        def fetch(txid: str) -> dict | None:
            return self.get_json(f"/tx/{txid}", missing_ok=True)

        with ThreadPoolExecutor(max_workers=min(MAX_PREVOUT_WORKERS, len(txids))) as pool:
            bodies = dict(zip(txids, pool.map(fetch, txids), strict=True))
        prevouts = []
        for inp in tx.vin:
            body = bodies[inp.txid.hex()]
            if body is None or not 0 <= inp.vout < len(body.get("vout", [])):
                raise InvalidInput(
                    "invalid_signed_transaction",
                    "The transaction spends an output the network does not know.",
                    {"input": f"{inp.txid.hex()}:{inp.vout}"},
                )
            prevouts.append(body["vout"][inp.vout])
        return prevouts

    def decode_signed(self, signed: Any) -> Submission:
        """A signed plain payment from one address: see ``_transfer`` for what is refused."""
        tx = self._parse_raw(signed)
        prevouts = self._prevouts(tx)
        sender, recipient, amount = self._transfer(
            [(str(p.get("scriptpubkey", "")).lower(), p.get("scriptpubkey_address")) for p in prevouts],
            [(out.script_pubkey, out.value) for out in tx.vout],
            no_address="invalid_signed_transaction",
        )
        fee = sum(int(p["value"]) for p in prevouts) - sum(out.value for out in tx.vout)
        if fee < 0:
            raise InvalidInput("invalid_signed_transaction", "The transaction spends more than its inputs hold.")
        return Submission(
            tx_hash=tx.txid().hex(),
            sender=sender,
            recipient=recipient,
            contract=None,
            amount_base=amount,
            nonce=None,
            raw=tx.serialize().hex(),
            fee_max_base=fee,
        )

    def send(self, submission: Submission) -> str:
        if not submission.raw:
            raise InvalidInput("invalid_signed_transaction", "Nothing to send: the raw transaction is missing.")

        def handle(response: httpx.Response) -> str:
            text = response.text.strip()
            if response.is_success:
                return text
            if any(marker in text.lower() for marker in _ALREADY_KNOWN):
                return submission.tx_hash  # sent before: the network has it, which is all we wanted
            raise InvalidInput("transaction_rejected", text or f"HTTP {response.status_code}", {"reason": text})

        return self.call("POST", "/tx", handle, content=submission.raw)

    def lookup(self, tx_hash: str) -> Submission | None:
        txid = self._txid(tx_hash)
        body = self.get_json(f"/tx/{txid}", missing_ok=True)
        if body is None:
            return None
        spent = [vin.get("prevout") or {} for vin in body["vin"]]
        sender, recipient, amount = self._transfer(
            [(str(p.get("scriptpubkey", "")).lower(), p.get("scriptpubkey_address")) for p in spent],
            [(Script(bytes.fromhex(out["scriptpubkey"])), int(out["value"])) for out in body["vout"]],
            no_address="unsupported_transaction",
        )
        raw = self.get_text(f"/tx/{txid}/hex", missing_ok=True) or ""
        return Submission(
            tx_hash=txid,
            sender=sender,
            recipient=recipient,
            contract=None,
            amount_base=amount,
            nonce=None,
            raw=raw,
            fee_max_base=int(body["fee"]) if body.get("fee") is not None else None,
        )

    @staticmethod
    def _txid(tx_hash: str) -> str:
        txid = tx_hash.lower().removeprefix("0x") if isinstance(tx_hash, str) else ""
        if not _TXID.match(txid):
            raise InvalidInput("invalid_tx_hash", "A Bitcoin txid is 64 hex digits.")
        return txid

    def normalize_tx_hash(self, tx_hash: str) -> str:
        return self._txid(tx_hash)

    # --- tracking ------------------------------------------------------------------------------------------

    def sweep_context(self) -> None:
        return None

    def observe(
        self, submission: Submission, *, previous: Observation | None = None, context: Any = None
    ) -> Observation:
        txid = self._txid(submission.tx_hash)
        status = self.get_json(f"/tx/{txid}/status", missing_ok=True)
        if status is None:
            return self._unknown(txid, submission)
        if not status.get("confirmed"):
            return Observation(status=TxStatus.PENDING, confirmations=0, note="in the mempool")
        height = int(status["block_height"])
        confirmations = max(self.tip_height() - height + 1, 0)
        body = self.get_json(f"/tx/{txid}", missing_ok=True) or {}
        fee = int(body["fee"]) if body.get("fee") is not None else None
        if confirmations >= self.finality_depth:
            state, final = TxStatus.FINALIZED, True
        elif confirmations >= self.chain.confirmations:
            state, final = TxStatus.CONFIRMED, False
        else:
            state, final = TxStatus.PENDING, False
        return Observation(
            status=state,
            block_number=height,
            block_hash=status.get("block_hash"),
            block_timestamp=int(status["block_time"]) if status.get("block_time") is not None else None,
            confirmations=confirmations,
            fee_paid_base=fee,
            final=final,
        )

    def _unknown(self, txid: str, submission: Submission) -> Observation:
        """Not in the mempool nor the chain: dropped for good if another transaction spent one of its inputs."""
        try:
            tx = self._parse_raw(submission.raw)
        except InvalidInput:
            return Observation(status=TxStatus.PENDING, found=False, note="unknown to the network")
        for inp in tx.vin:
            spend = self.get_json(f"/tx/{inp.txid.hex()}/outspend/{inp.vout}", missing_ok=True) or {}
            if spend.get("spent") and spend.get("txid") and spend["txid"] != txid:
                return Observation(
                    status=TxStatus.DROPPED,
                    found=False,
                    final=True,
                    note=f"input {inp.txid.hex()}:{inp.vout} was spent by {spend['txid']}",
                )
        return Observation(status=TxStatus.PENDING, found=False, note="unknown to the network")
