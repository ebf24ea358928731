"""Wallet-side Bitcoin signing for tests, on embit: keys, addresses, PSBT signing, BIP-322 and BIP-137 messages.

What a user's wallet does, never the server: the server only builds unsigned PSBTs and verifies.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable

import coincurve
from embit import compact, ec, hashes
from embit.networks import NETWORKS
from embit.psbt import PSBT
from embit.script import Script, Witness, p2pkh, p2sh, p2tr, p2wpkh
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from tests.doubles.esplora import DUST, NETWORK_PARAMS, script_for_address

KINDS = ("p2wpkh", "p2tr", "p2pkh")


def new_key() -> ec.PrivateKey:
    while True:
        try:
            return ec.PrivateKey(secrets.token_bytes(32))
        except ec.ECError:  # a secret at or above the curve order: astronomically rare
            continue


def script_for(key: ec.PrivateKey, kind: str) -> Script:
    pub = key.get_public_key()
    if kind == "p2wpkh":
        return p2wpkh(pub)
    if kind == "p2tr":
        return p2tr(pub)
    if kind == "p2pkh":
        return p2pkh(pub)
    if kind == "p2sh-p2wpkh":
        return p2sh(p2wpkh(pub))
    raise ValueError(f"unknown kind {kind!r}")


def address_for(key: ec.PrivateKey, kind: str, network: str = "regtest") -> str:
    return script_for(key, kind).address(NETWORK_PARAMS[network])


def _key_for(script: Script, keys: Iterable[ec.PrivateKey]) -> tuple[ec.PrivateKey, str]:
    for key in keys:
        for kind in KINDS:
            if script_for(key, kind) == script:
                return key, kind
    raise ValueError(f"no key for script {script.data.hex()}")


def sign_transaction(tx: Transaction, prevouts: list[TransactionOutput], keys: Iterable[ec.PrivateKey]) -> str:
    """Sign every input (SIGHASH_ALL / taproot DEFAULT) and return the raw transaction hex."""
    keys = list(keys)
    scripts, values = [p.script_pubkey for p in prevouts], [p.value for p in prevouts]
    for index, (inp, prevout) in enumerate(zip(tx.vin, prevouts, strict=True)):
        key, kind = _key_for(prevout.script_pubkey, keys)
        if kind == "p2wpkh":
            code = p2pkh(key.get_public_key())
            digest = tx.sighash_segwit(index, code, prevout.value, sighash=SIGHASH.ALL)
            inp.witness = Witness([key.sign(digest).serialize() + bytes([SIGHASH.ALL]), key.sec()])
        elif kind == "p2tr":
            digest = tx.sighash_taproot(index, scripts, values, sighash=SIGHASH.DEFAULT)
            inp.witness = Witness([key.taproot_tweak(b"").schnorr_sign(digest).serialize()])
        else:
            digest = tx.sighash_legacy(index, prevout.script_pubkey, sighash=SIGHASH.ALL)
            der = key.sign(digest).serialize() + bytes([SIGHASH.ALL])
            sec = key.sec()
            inp.script_sig = Script(bytes([len(der)]) + der + bytes([len(sec)]) + sec)
    return tx.serialize().hex()


def sign_psbt(psbt_b64: str, keys: Iterable[ec.PrivateKey] | ec.PrivateKey) -> str:
    """Sign and finalize an unsigned PSBT (inputs carry witness_utxo or non_witness_utxo); the raw tx hex."""
    keys = [keys] if isinstance(keys, ec.PrivateKey) else list(keys)
    psbt = PSBT.from_base64(psbt_b64)
    prevouts = []
    for inp in psbt.inputs:
        if inp.non_witness_utxo is not None:
            assert inp.non_witness_utxo.txid() == inp.txid, "non_witness_utxo does not match the outpoint"
        prevouts.append(inp.utxo)
    return sign_transaction(psbt.tx, prevouts, keys)


def build_and_sign(esplora, key: ec.PrivateKey, kind: str, to_address: str, sats: int, fee_sats: int) -> str:
    """A signed transaction spending ALL the key's UTXOs (of ``kind``) on the double: ``sats`` to ``to_address``,
    ``fee_sats`` fee, the rest back as change (dropped into the fee when dust)."""
    network = NETWORK_PARAMS[esplora.network]
    own_script = script_for(key, kind)
    utxos = esplora.utxos(own_script.address(network))
    total = sum(u["value"] for u in utxos)
    vin = [TransactionInput(bytes.fromhex(u["txid"]), u["vout"], sequence=0xFFFFFFFD) for u in utxos]
    vout = [TransactionOutput(sats, script_for_address(to_address, network))]
    change = total - sats - fee_sats
    if change >= DUST[kind]:
        vout.append(TransactionOutput(change, own_script))
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    return sign_transaction(tx, [TransactionOutput(u["value"], own_script) for u in utxos], [key])


# --- messages ------------------------------------------------------------------------------------------------


def bip322_message_hash(message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hashes.tagged_hash("BIP0322-signed-message", data)


def bip322_sign_simple(key: ec.PrivateKey, kind: str, address: str, message: str) -> str:
    """BIP-322 "simple" signature (base64 of the to_sign witness) for a P2WPKH or P2TR key-path address."""
    network = next(n for n in NETWORKS.values() if address.lower().startswith(n["bech32"] + "1"))
    spk = script_for_address(address, network)
    if spk != script_for(key, kind):
        raise ValueError("the key does not own this address")
    to_spend = Transaction(
        version=0,
        vin=[TransactionInput(b"\x00" * 32, 0xFFFFFFFF, Script(b"\x00\x20" + bip322_message_hash(message)), 0)],
        vout=[TransactionOutput(0, spk)],
        locktime=0,
    )
    to_sign = Transaction(
        version=0,
        vin=[TransactionInput(to_spend.txid(), 0, sequence=0)],
        vout=[TransactionOutput(0, Script(b"\x6a"))],
        locktime=0,
    )
    sign_transaction(to_sign, [TransactionOutput(0, spk)], [key])
    return base64.b64encode(to_sign.vin[0].witness.serialize()).decode()


_LEGACY_HEADER = {"p2pkh-uncompressed": 27, "p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}


def legacy_message_hash(message: str) -> bytes:
    data = message.encode()
    return hashes.double_sha256(b"\x18Bitcoin Signed Message:\n" + compact.to_bytes(len(data)) + data)


def legacy_sign_message(key: ec.PrivateKey, message: str, kind: str = "p2pkh") -> str:
    """ "Bitcoin Signed Message" compact signature with the BIP-137 header for ``kind``
    (p2pkh-uncompressed, p2pkh, p2sh-p2wpkh, p2wpkh)."""
    signature = coincurve.PrivateKey(key.secret).sign_recoverable(legacy_message_hash(message), hasher=None)
    header = _LEGACY_HEADER[kind] + signature[64]
    return base64.b64encode(bytes([header]) + signature[:64]).decode()


def uncompressed_p2pkh_address(key: ec.PrivateKey, network: str = "regtest") -> str:
    pub = ec.PublicKey.parse(key.sec())
    pub.compressed = False
    return p2pkh(pub).address(NETWORK_PARAMS[network])
