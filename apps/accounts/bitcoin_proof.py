"""Proof of control of a Bitcoin address: a signed message, on any network.

- BIP-322 "simple" (base64 of the to_sign witness) for P2WPKH and P2TR (key path) addresses, verified by
  rust-bitcoin's ``bip322`` crate. The signature commits to the scriptPubKey only, never to the network, and the
  crate parses mainnet addresses only: testnet/signet/regtest addresses are handed over in their mainnet spelling.
- The legacy "Bitcoin Signed Message" (base64 of a 65-byte compact recoverable signature, BIP-137 header:
  27-30 uncompressed P2PKH, 31-34 compressed P2PKH, 35-38 P2SH-P2WPKH, 39-42 P2WPKH): the key is recovered and its
  address derived. Like Electrum and Sparrow, a compressed-key header 31-34 is also accepted for the key's segwit
  addresses (those wallets sign segwit addresses with it); the proof is still of the same key.
"""

from __future__ import annotations

import base64
import binascii

import bip322
import coincurve
from embit import base58, bech32, compact, hashes
from embit.networks import NETWORKS
from embit.script import Script

_BECH32_HRPS = ("bc", "tb", "bcrt")


def verify_message(*, address: str, message: str, signature: str) -> bool:
    """True when ``signature`` signs ``message`` for ``address``; False for anything else, never an exception."""
    try:
        return _verify(address, message, signature)
    except Exception:  # garbage of any shape is a failed proof, not an error
        return False


def _verify(address: str, message: str, signature: str) -> bool:
    if not all(isinstance(value, str) for value in (address, message, signature)):
        return False
    script = _script(address.strip())
    if script is None:
        return False
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) == 65 and 27 <= raw[0] <= 42:
        return _verify_legacy(script, message, raw)
    if script.script_type() not in ("p2wpkh", "p2tr", "p2sh"):
        return False
    try:
        result = bip322.verify_simple_encoded(script.address(NETWORKS["main"]), message, signature.strip())
    except bip322.VerificationError:
        return False
    # The binding returns None on success (raising on failure); accept True in case a version returns a bool.
    return result is None or result is True


def _script(address: str) -> Script | None:
    """The scriptPubKey of a Bitcoin address of any network; None if it is not one."""
    lowered = address.lower()
    hrp = lowered[: lowered.rfind("1")] if "1" in lowered else ""
    if hrp in _BECH32_HRPS:
        if address not in (lowered, address.upper()):
            return None
        version, program = bech32.decode(hrp, lowered)
        if version is None:
            return None
        return Script(bytes([version + 0x50 if version else 0, len(program), *program]))
    try:
        data = base58.decode_check(address)
    except Exception:
        return None
    if len(data) != 21:
        return None
    if any(data[:1] == net["p2pkh"] for net in NETWORKS.values()):
        return Script(b"\x76\xa9\x14" + data[1:] + b"\x88\xac")
    if any(data[:1] == net["p2sh"] for net in NETWORKS.values()):
        return Script(b"\xa9\x14" + data[1:] + b"\x87")
    return None


def _legacy_hash(message: str) -> bytes:
    data = message.encode()
    return hashes.double_sha256(b"\x18Bitcoin Signed Message:\n" + compact.to_bytes(len(data)) + data)


def _verify_legacy(script: Script, message: str, raw: bytes) -> bool:
    header = raw[0]
    recid = (header - 27) & 3
    compressed = header >= 31
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            raw[1:] + bytes([recid]), _legacy_hash(message), hasher=None
        )
    except Exception:
        return False
    key_hash = hashes.hash160(key.format(compressed=compressed))
    p2pkh = Script(b"\x76\xa9\x14" + key_hash + b"\x88\xac")
    p2wpkh = Script(b"\x00\x14" + key_hash)
    p2sh_p2wpkh = Script(b"\xa9\x14" + hashes.hash160(p2wpkh.data) + b"\x87")
    if header <= 30:
        allowed = [p2pkh]
    elif header <= 34:
        allowed = [p2pkh, p2wpkh, p2sh_p2wpkh]
    elif header <= 38:
        allowed = [p2sh_p2wpkh]
    else:
        allowed = [p2wpkh]
    return script in allowed
