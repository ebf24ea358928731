"""A local Esplora (Blockstream/esplora ``API.md`` REST shapes) with real UTXO state, for tests and the sandbox.

Blocks, confirmed transactions, a mempool and a UTXO set. ``POST /tx`` parses the raw transaction (embit), refuses
what bitcoind would (undecodable, missing/spent inputs, mempool conflicts, outputs above inputs, dust, invalid
signatures) with HTTP 400 and bitcoind's error text, and otherwise puts it in the mempool. Signatures are verified
for P2WPKH (BIP-143), P2TR key-path (BIP-341) and P2PKH (legacy sighash) inputs; other input types are refused.

Not Esplora, clearly prefixed: ``POST /_sandbox/fund`` {address, sats} → {txid, vout} (a coinbase-like
transaction in the mempool) and ``POST /_sandbox/mine`` {blocks} → {height}.

``python -m tests.doubles.esplora --port 3002 --network regtest --block-seconds 10`` runs it as a sandbox.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from embit import base58, bech32, ec, hashes
from embit.networks import NETWORKS
from embit.script import Script
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from tests.doubles.server import LocalHTTPDouble, LocalHTTPHandler, LocalHTTPServer

NETWORK_PARAMS = {
    "mainnet": NETWORKS["main"],
    "testnet": NETWORKS["test"],
    "signet": NETWORKS["signet"],
    "regtest": NETWORKS["regtest"],
}
# The real genesis block hash of each network: block 0 of the double carries it (later blocks are synthetic), so
# ``/block-height/0`` says which network the double stands in for, as a real Esplora does.
GENESIS_HASHES = {
    "mainnet": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "testnet": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
}
DEFAULT_FEE_ESTIMATES = {
    1: Decimal("25.312"),
    2: Decimal("20.5"),
    3: Decimal("12.25"),
    4: Decimal("10.1"),
    5: Decimal("8.004"),
    6: Decimal("5.5"),
    10: Decimal("3.2"),
    20: Decimal("2.015"),
    25: Decimal("1.8"),
    144: Decimal("1.2"),
    504: Decimal("1.01"),
    1008: Decimal("1"),
}
DUST = {"p2pkh": 546, "p2sh": 540, "p2wpkh": 294, "p2wsh": 330, "p2tr": 330}
ESPLORA_TYPES = {"p2pkh": "p2pkh", "p2sh": "p2sh", "p2wpkh": "v0_p2wpkh", "p2wsh": "v0_p2wsh", "p2tr": "v1_p2tr"}
COINBASE_TXID = b"\x00" * 32
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Rejected(Exception):
    """bitcoind's refusal: ``sendrawtransaction RPC error: {"code": ..., "message": ...}``."""

    def __init__(self, code: int, message: str) -> None:
        self.text = "sendrawtransaction RPC error: " + json.dumps(
            {"code": code, "message": message}, separators=(",", ":")
        )
        super().__init__(self.text)


@dataclass
class Block:
    height: int
    hash: str
    time: int
    prev: str | None
    txids: list[str] = field(default_factory=list)


@dataclass
class TxRecord:
    tx: Transaction
    raw: bytes
    txid: str
    prevouts: list[TransactionOutput | None]  # None: a coinbase-like input
    fee: int
    block: Block | None = None
    seen: int = 0


def _stripped_size(tx: Transaction) -> int:
    return len(
        Transaction(
            tx.version,
            [TransactionInput(i.txid, i.vout, i.script_sig, i.sequence) for i in tx.vin],
            tx.vout,
            tx.locktime,
        ).serialize()
    )


def script_for_address(address: str, network: dict) -> Script:
    """The scriptPubKey of an address of ``network``; ValueError otherwise."""
    lowered = address.lower()
    if lowered.startswith(network["bech32"] + "1"):
        version, program = bech32.decode(network["bech32"], lowered)
        if version is None:
            raise ValueError("bad bech32 address")
        return Script(bytes([version + 0x50 if version else 0, len(program), *program]))
    data = base58.decode_check(address)
    if len(data) == 21 and data[:1] == network["p2pkh"]:
        return Script(b"\x76\xa9\x14" + data[1:] + b"\x88\xac")
    if len(data) == 21 and data[:1] == network["p2sh"]:
        return Script(b"\xa9\x14" + data[1:] + b"\x87")
    raise ValueError("not an address of this network")


def _asm(script: Script) -> str:
    data, kind = script.data, script.script_type()
    if kind == "p2pkh":
        return f"OP_DUP OP_HASH160 OP_PUSHBYTES_20 {data[3:23].hex()} OP_EQUALVERIFY OP_CHECKSIG"
    if kind == "p2sh":
        return f"OP_HASH160 OP_PUSHBYTES_20 {data[2:22].hex()} OP_EQUAL"
    if kind in ("p2wpkh", "p2wsh"):
        return f"OP_0 OP_PUSHBYTES_{len(data) - 2} {data[2:].hex()}"
    if kind == "p2tr":
        return f"OP_PUSHNUM_1 OP_PUSHBYTES_32 {data[2:].hex()}"
    if data[:1] == b"\x6a":
        return "OP_RETURN " + data[1:].hex()
    return ""


def _pushes(script: bytes) -> list[bytes]:
    """The data pushes of a push-only scriptSig; ValueError for anything else."""
    items, i = [], 0
    while i < len(script):
        op = script[i]
        if 1 <= op <= 75:
            size, i = op, i + 1
        elif op == 76 and i + 1 < len(script):
            size, i = script[i + 1], i + 2
        else:
            raise ValueError("not push-only")
        if i + size > len(script):
            raise ValueError("short push")
        items.append(script[i : i + size])
        i += size
    return items


def _hashtype_ok(hashtype: int) -> bool:
    return (hashtype & 0x7F) in (SIGHASH.ALL, SIGHASH.NONE, SIGHASH.SINGLE)


_CHECKSIG_FAILED = "mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)"


def _check_p2wpkh(tx: Transaction, index: int, prevouts: list[TransactionOutput]) -> bool:
    spk, inp = prevouts[index].script_pubkey, tx.vin[index]
    if len(inp.witness.items) != 2 or inp.script_sig.data:
        return False
    sig, pub = inp.witness.items
    if hashes.hash160(pub) != spk.data[2:] or not _hashtype_ok(sig[-1]):
        return False
    code = Script(b"\x76\xa9\x14" + spk.data[2:] + b"\x88\xac")  # BIP-143: P2WPKH signs as P2PKH
    digest = tx.sighash_segwit(index, code, prevouts[index].value, sighash=sig[-1])
    return ec.PublicKey.parse(pub).verify(ec.Signature.parse(sig[:-1]), digest)


def _check_p2tr(tx: Transaction, index: int, prevouts: list[TransactionOutput]) -> bool:
    spk, inp = prevouts[index].script_pubkey, tx.vin[index]
    if len(inp.witness.items) != 1 or inp.script_sig.data:
        raise Rejected(-26, "non-mandatory-script-verify-flag (the test double verifies key-path spends only)")
    sig = inp.witness.items[0]
    hashtype = sig[64] if len(sig) == 65 else 0
    if len(sig) not in (64, 65) or (len(sig) == 65 and (hashtype == 0 or not _hashtype_ok(hashtype))):
        raise Rejected(-26, "mandatory-script-verify-flag-failed (Invalid Schnorr signature size)")
    scripts, values = [p.script_pubkey for p in prevouts], [p.value for p in prevouts]
    digest = tx.sighash_taproot(index, scripts, values, sighash=hashtype)
    if not ec.PublicKey.from_xonly(spk.data[2:]).schnorr_verify(ec.SchnorrSig(sig[:64]), digest):
        raise Rejected(-26, "mandatory-script-verify-flag-failed (Invalid Schnorr signature)")
    return True


def _check_p2pkh(tx: Transaction, index: int, prevouts: list[TransactionOutput]) -> bool:
    spk = prevouts[index].script_pubkey
    pushes = _pushes(tx.vin[index].script_sig.data)
    if len(pushes) != 2 or hashes.hash160(pushes[1]) != spk.data[3:23] or not _hashtype_ok(pushes[0][-1]):
        return False
    digest = tx.sighash_legacy(index, spk, sighash=pushes[0][-1])
    return ec.PublicKey.parse(pushes[1]).verify(ec.Signature.parse(pushes[0][:-1]), digest)


_CHECKS = {"p2wpkh": _check_p2wpkh, "p2tr": _check_p2tr, "p2pkh": _check_p2pkh}


def _verify_input(tx: Transaction, index: int, prevouts: list[TransactionOutput]) -> None:
    """Raise Rejected unless input ``index`` carries a valid signature for its prevout."""
    kind = prevouts[index].script_pubkey.script_type()
    check = _CHECKS.get(kind or "")
    if check is None:
        raise Rejected(-26, f"non-mandatory-script-verify-flag (the test double cannot verify {kind} spends)")
    try:
        ok = check(tx, index, prevouts)
    except Rejected:
        raise
    except Exception:  # an unparsable key or signature is a failed check, as in bitcoind
        ok = False
    if not ok:
        raise Rejected(-26, _CHECKSIG_FAILED)


class EsploraState:
    """The chain: blocks, transactions (confirmed and mempool), who spends each output. Callers hold ``lock``."""

    def __init__(self, network: str) -> None:
        self.network_name = network
        self.network = NETWORK_PARAMS[network]
        self.lock = threading.RLock()
        self.blocks: list[Block] = []
        self.txs: dict[str, TxRecord] = {}
        self.mempool: list[str] = []
        self.spent_by: dict[tuple[str, int], tuple[str, int]] = {}
        self.fee_estimates = dict(DEFAULT_FEE_ESTIMATES)
        self._fund_counter = 0
        self._new_block([])

    # --- chain -----------------------------------------------------------------------------------------------

    def _new_block(self, txids: list[str]) -> Block:
        prev = self.blocks[-1] if self.blocks else None
        moment = max(int(time.time()), prev.time + 1 if prev else 0)
        height = prev.height + 1 if prev else 0
        header = f"{height}:{prev.hash if prev else ''}:{moment}:{','.join(txids)}:{secrets.token_hex(8)}"
        block_hash = GENESIS_HASHES[self.network_name] if prev is None else hashlib.sha256(header.encode()).hexdigest()
        block = Block(height, block_hash, moment, prev.hash if prev else None, txids)
        self.blocks.append(block)
        for txid in txids:
            self.txs[txid].block = block
        return block

    def mine(self, count: int = 1) -> int:
        for n in range(max(count, 0)):
            txids, self.mempool = (self.mempool, []) if n == 0 else ([], self.mempool)
            self._new_block(txids)
        return self.blocks[-1].height

    def fund(self, address: str, sats: int) -> tuple[str, int]:
        script = script_for_address(address, self.network)
        self._fund_counter += 1
        tag = self._fund_counter.to_bytes(8, "little") + secrets.token_bytes(8)
        coinbase = TransactionInput(COINBASE_TXID, 0xFFFFFFFF, Script(bytes([len(tag)]) + tag))
        tx = Transaction(version=2, vin=[coinbase], vout=[TransactionOutput(int(sats), script)], locktime=0)
        raw = tx.serialize()
        txid = tx.txid().hex()
        self.txs[txid] = TxRecord(tx, raw, txid, [None], 0, seen=int(time.time()))
        self.mempool.append(txid)
        return txid, 0

    def output(self, txid: str, vout: int) -> TransactionOutput | None:
        record = self.txs.get(txid)
        if record is None or not 0 <= vout < len(record.tx.vout):
            return None
        return record.tx.vout[vout]

    # --- POST /tx --------------------------------------------------------------------------------------------

    def accept(self, raw_hex: str) -> str:
        try:
            raw = bytes.fromhex(raw_hex.strip())
            tx = Transaction.parse(raw)
        except Exception:
            raise Rejected(-22, "TX decode failed") from None
        if tx.serialize() != raw:  # trailing bytes, or a short read embit pads silently
            raise Rejected(-22, "TX decode failed")
        txid = tx.txid().hex()
        if txid in self.txs:
            if self.txs[txid].block is not None:
                raise Rejected(-27, "Transaction already in block chain")
            return txid  # bitcoind answers an already-known mempool transaction with its txid
        if not tx.vin:
            raise Rejected(-26, "bad-txns-vin-empty")
        if not tx.vout:
            raise Rejected(-26, "bad-txns-vout-empty")
        prevouts = self._prevouts(tx)
        value_in, value_out = sum(p.value for p in prevouts), sum(o.value for o in tx.vout)
        if value_out > value_in:
            raise Rejected(-26, f"bad-txns-in-belowout, value in ({_btc(value_in)}) < value out ({_btc(value_out)})")
        for out in tx.vout:
            dust = DUST.get(out.script_pubkey.script_type() or "")
            if dust is not None and out.value < dust:
                raise Rejected(-26, "dust")
        for index in range(len(tx.vin)):
            _verify_input(tx, index, prevouts)
        self.txs[txid] = TxRecord(tx, raw, txid, list(prevouts), value_in - value_out, seen=int(time.time()))
        for index, inp in enumerate(tx.vin):
            self.spent_by[(inp.txid.hex(), inp.vout)] = (txid, index)
        self.mempool.append(txid)
        return txid

    def _prevouts(self, tx: Transaction) -> list[TransactionOutput]:
        seen: set[tuple[str, int]] = set()
        prevouts = []
        for inp in tx.vin:
            outpoint = (inp.txid.hex(), inp.vout)
            if outpoint in seen:
                raise Rejected(-26, "bad-txns-inputs-duplicate")
            seen.add(outpoint)
            prevout = self.output(*outpoint)
            spender = self.spent_by.get(outpoint)
            if prevout is None or (spender and self.txs[spender[0]].block is not None):
                raise Rejected(-25, "bad-txns-inputs-missingorspent")
            if spender:
                raise Rejected(-26, "txn-mempool-conflict")
            prevouts.append(prevout)
        return prevouts

    # --- JSON views ------------------------------------------------------------------------------------------

    def status(self, record: TxRecord) -> dict[str, Any]:
        if record.block is None:
            return {"confirmed": False}
        block = record.block
        return {"confirmed": True, "block_height": block.height, "block_hash": block.hash, "block_time": block.time}

    def address_of(self, script: Script) -> str | None:
        try:
            return script.address(self.network) if script.script_type() else None
        except Exception:
            return None

    def _vout_json(self, out: TransactionOutput) -> dict[str, Any]:
        script = out.script_pubkey
        kind = script.script_type()
        body = {
            "scriptpubkey": script.data.hex(),
            "scriptpubkey_asm": _asm(script),
            "scriptpubkey_type": ESPLORA_TYPES.get(
                kind or "", "op_return" if script.data[:1] == b"\x6a" else "unknown"
            ),
            "value": out.value,
        }
        address = self.address_of(script)
        if address:
            body["scriptpubkey_address"] = address
        return body

    def tx_json(self, record: TxRecord) -> dict[str, Any]:
        tx = record.tx
        vin = []
        for inp, prevout in zip(tx.vin, record.prevouts, strict=True):
            vin.append(
                {
                    "txid": inp.txid.hex(),
                    "vout": inp.vout,
                    "prevout": self._vout_json(prevout) if prevout is not None else None,
                    "scriptsig": inp.script_sig.data.hex(),
                    "scriptsig_asm": "",
                    "witness": [item.hex() for item in inp.witness.items],
                    "is_coinbase": prevout is None,
                    "sequence": inp.sequence,
                }
            )
        stripped = _stripped_size(tx)
        return {
            "txid": record.txid,
            "version": tx.version,
            "locktime": tx.locktime,
            "vin": vin,
            "vout": [self._vout_json(out) for out in tx.vout],
            "size": len(record.raw),
            "weight": stripped * 3 + len(record.raw),
            "fee": record.fee,
            "status": self.status(record),
        }

    def outspend(self, txid: str, vout: int) -> dict[str, Any]:
        spender = self.spent_by.get((txid, vout))
        if spender is None:
            return {"spent": False}
        return {"spent": True, "txid": spender[0], "vin": spender[1], "status": self.status(self.txs[spender[0]])}

    def _touching(self, script: Script) -> list[TxRecord]:
        found = []
        for record in self.txs.values():
            outs = any(o.script_pubkey == script for o in record.tx.vout)
            ins = any(p is not None and p.script_pubkey == script for p in record.prevouts)
            if outs or ins:
                found.append(record)
        return found

    def address_json(self, address: str, script: Script) -> dict[str, Any]:
        stats = {
            key: dict.fromkeys(
                ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"), 0
            )
            for key in ("chain_stats", "mempool_stats")
        }
        for record in self._touching(script):
            bucket = stats["chain_stats" if record.block is not None else "mempool_stats"]
            bucket["tx_count"] += 1
            for out in record.tx.vout:
                if out.script_pubkey == script:
                    bucket["funded_txo_count"] += 1
                    bucket["funded_txo_sum"] += out.value
            for prevout in record.prevouts:
                if prevout is not None and prevout.script_pubkey == script:
                    bucket["spent_txo_count"] += 1
                    bucket["spent_txo_sum"] += prevout.value
        return {"address": address, **stats}

    def utxos(self, script: Script) -> list[dict[str, Any]]:
        found = []
        for record in self.txs.values():
            for index, out in enumerate(record.tx.vout):
                if out.script_pubkey == script and (record.txid, index) not in self.spent_by:
                    found.append(
                        {"txid": record.txid, "vout": index, "value": out.value, "status": self.status(record)}
                    )
        return found

    def address_txs(self, script: Script) -> list[dict[str, Any]]:
        records = self._touching(script)
        mempool = [r for r in records if r.block is None][::-1][:50]
        confirmed = sorted((r for r in records if r.block is not None), key=lambda r: -r.block.height)[:25]
        return [self.tx_json(r) for r in mempool + confirmed]

    def fee_estimates_body(self) -> str:
        return "{" + ",".join(f'"{k}":{v}' for k, v in sorted(self.fee_estimates.items())) + "}"


def _positive(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("sats must be positive")
    return number


def _btc(sats: int) -> str:
    return format(Decimal(sats).scaleb(-8), "f")


class _Handler(LocalHTTPHandler):
    server: _Server

    def _send(self, status: int, body: str | dict | list, content_type: str = "text/plain") -> None:
        if not isinstance(body, str):
            body, content_type = json.dumps(body), "application/json"
        self._reply(status, body.encode(), content_type)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        state = self.server.state
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[1:]
        with state.lock:
            status, body, content_type = self._get(state, parts)
        self._send(status, body, content_type)

    def _get(self, state: EsploraState, parts: list[str]) -> tuple[int, Any, str]:
        text = "text/plain"
        match parts:
            case ["blocks", "tip", "height"]:
                return 200, str(state.blocks[-1].height), text
            case ["blocks", "tip", "hash"]:
                return 200, state.blocks[-1].hash, text
            case ["block-height", height] if height.isdigit():
                if int(height) < len(state.blocks):
                    return 200, state.blocks[int(height)].hash, text
                return 404, "Block not found", text
            case ["block", block_hash, *rest]:
                block = next((b for b in state.blocks if b.hash == block_hash), None)
                if block is None:
                    return 404, "Block not found", text
                if rest == ["status"]:
                    nxt = state.blocks[block.height + 1].hash if block.height + 1 < len(state.blocks) else None
                    return 200, {"in_best_chain": True, "height": block.height, "next_best": nxt}, text
                if rest == ["txids"]:
                    return 200, block.txids, text
                body = {
                    "id": block.hash,
                    "height": block.height,
                    "timestamp": block.time,
                    "tx_count": len(block.txids),
                    "previousblockhash": block.prev,
                    "mediantime": block.time,
                }
                return 200, body, text
            case ["fee-estimates"]:
                return 200, state.fee_estimates_body(), "application/json"
            case ["address", address, *rest]:
                try:
                    script = script_for_address(address, state.network)
                except Exception:
                    return 400, "Invalid Bitcoin address", text
                if not rest:
                    return 200, state.address_json(address, script), text
                if rest == ["utxo"]:
                    return 200, state.utxos(script), text
                if rest == ["txs"]:
                    return 200, state.address_txs(script), text
            case ["tx", txid, *rest]:
                if not _HEX64.match(txid):
                    return 400, "Invalid hex string", text
                if rest[:1] == ["outspend"] and len(rest) == 2 and rest[1].isdigit():
                    return 200, state.outspend(txid, int(rest[1])), text
                record = state.txs.get(txid)
                if record is None:
                    return 404, "Transaction not found", text
                if not rest:
                    return 200, state.tx_json(record), text
                if rest == ["status"]:
                    return 200, state.status(record), text
                if rest == ["hex"]:
                    return 200, record.raw.hex(), text
                if rest == ["raw"]:
                    return 200, record.raw.decode("latin-1"), "application/octet-stream"
                if rest == ["outspends"]:
                    return 200, [state.outspend(txid, i) for i in range(len(record.tx.vout))], text
            case ["mempool", "txids"]:
                return 200, list(state.mempool), text
        return 404, f"Not found: /{'/'.join(parts)}", text

    def do_POST(self) -> None:
        state = self.server.state
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[1:]
        body = self._body()
        with state.lock:
            try:
                if parts == ["tx"]:
                    self._send(200, state.accept(body.decode("ascii", errors="replace")))
                elif parts == ["_sandbox", "fund"]:
                    data = json.loads(body or b"{}")
                    txid, vout = state.fund(str(data["address"]), _positive(data["sats"]))
                    self._send(200, {"txid": txid, "vout": vout})
                elif parts == ["_sandbox", "mine"]:
                    data = json.loads(body or b"{}")
                    self._send(200, {"height": state.mine(int(data.get("blocks", 1)))})
                else:
                    self._send(404, "Not found")
            except Rejected as exc:
                self._send(400, exc.text)
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, f"Bad request: {exc}")


class _Server(LocalHTTPServer):
    state: EsploraState


class EsploraDouble(LocalHTTPDouble):
    """A local Esplora server: ``with EsploraDouble() as esplora: ... esplora.url``."""

    server_class = _Server
    handler_class = _Handler
    thread_name = "esplora-double"

    def __init__(self, network: str = "regtest", *, host: str = "127.0.0.1", port: int = 0) -> None:
        if network not in NETWORK_PARAMS:
            raise ValueError(f"network must be one of {sorted(NETWORK_PARAMS)}")
        self.network = network
        self.state = EsploraState(network)
        super().__init__(host=host, port=port)

    def _attach(self, server: _Server) -> None:
        server.state = self.state

    # --- Python conveniences (the same as the control endpoints) ----------------------------------------------

    def fund(self, address: str, sats: int) -> tuple[str, int]:
        with self.state.lock:
            return self.state.fund(address, sats)

    def mine(self, n: int = 1) -> int:
        with self.state.lock:
            return self.state.mine(n)

    def tip(self) -> int:
        with self.state.lock:
            return self.state.blocks[-1].height

    def utxos(self, address: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return self.state.utxos(script_for_address(address, self.state.network))

    def raw_tx(self, txid: str) -> str:
        with self.state.lock:
            return self.state.txs[txid].raw.hex()

    def set_fee_estimates(self, estimates: dict[int, Decimal]) -> None:
        with self.state.lock:
            self.state.fee_estimates = dict(estimates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Esplora test double (not a real network).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3002)
    parser.add_argument("--network", default="regtest", choices=sorted(NETWORK_PARAMS))
    parser.add_argument("--block-seconds", type=int, default=10, help="mine a block every N seconds (0: never)")
    args = parser.parse_args(argv)
    double = EsploraDouble(args.network, host=args.host, port=args.port).start()
    sys.stdout.write(
        f"SANDBOX Esplora (test double, not a real network): {args.network} at {double.url}"
        f" (block every {args.block_seconds or 'never'} s; POST /_sandbox/fund, /_sandbox/mine)\n"
    )
    sys.stdout.flush()
    double.serve_until_interrupted(args.block_seconds or 3600, (lambda: double.mine(1)) if args.block_seconds else None)


if __name__ == "__main__":
    main()
