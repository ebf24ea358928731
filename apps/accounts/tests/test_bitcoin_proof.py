"""Bitcoin message proofs: BIP-322 simple (P2WPKH, P2TR) and the legacy signed message (BIP-137), any network."""

from __future__ import annotations

import base64

import pytest

from apps.accounts.bitcoin_proof import verify_message
from tests.doubles.bitcoin_signing import (
    address_for,
    bip322_sign_simple,
    legacy_sign_message,
    new_key,
    uncompressed_p2pkh_address,
)

MESSAGE = "Sign in to EngiPay\nNonce: 7f3a9c"

# BIP-322 test vectors (bips/bip-0322.mediawiki): the P2WPKH key L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k.
BIP322_ADDRESS = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
BIP322_HELLO_WORLD = (
    "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/EgAxlk"
    "QpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
)
BIP322_EMPTY = (
    "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASECx/EgAxlk"
    "QpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
)
BIP322_TAPROOT_ADDRESS = "bc1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5sxq8lt3"
BIP322_TAPROOT_HELLO_WORLD = (
    "AUHd69PrJQEv+oKTfZ8l+WROBHuy9HKrbFCJu7U1iK2iiEy1vMU5EfMtjc+VSHM7aU0SDbak5IUZRVno2P5mjSafAQ=="
)


def test_bip322_test_vectors():
    assert verify_message(address=BIP322_ADDRESS, message="Hello World", signature=BIP322_HELLO_WORLD)
    assert verify_message(address=BIP322_ADDRESS, message="", signature=BIP322_EMPTY)
    assert verify_message(address=BIP322_TAPROOT_ADDRESS, message="Hello World", signature=BIP322_TAPROOT_HELLO_WORLD)
    assert not verify_message(address=BIP322_ADDRESS, message="", signature=BIP322_HELLO_WORLD)
    assert not verify_message(address=BIP322_ADDRESS, message="Hello World", signature=BIP322_EMPTY)


def test_the_helper_reproduces_the_bip322_vector():
    from embit import ec

    key = ec.PrivateKey.from_wif("L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k")
    assert address_for(key, "p2wpkh", "mainnet") == BIP322_ADDRESS
    assert address_for(key, "p2tr", "mainnet") == BIP322_TAPROOT_ADDRESS
    assert bip322_sign_simple(key, "p2wpkh", BIP322_ADDRESS, "Hello World") == BIP322_HELLO_WORLD


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr"])
@pytest.mark.parametrize("network", ["regtest", "testnet", "signet", "mainnet"])
def test_bip322_simple_is_valid_on_every_network(kind, network):
    key = new_key()
    address = address_for(key, kind, network)
    signature = bip322_sign_simple(key, kind, address, MESSAGE)
    assert verify_message(address=address, message=MESSAGE, signature=signature)
    assert verify_message(address=address.upper(), message=MESSAGE, signature=signature)


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr"])
def test_bip322_wrong_message_or_address_is_false(kind):
    key = new_key()
    address = address_for(key, kind)
    signature = bip322_sign_simple(key, kind, address, MESSAGE)
    assert not verify_message(address=address, message=MESSAGE + " ", signature=signature)
    assert not verify_message(address=address_for(new_key(), kind), message=MESSAGE, signature=signature)
    assert not verify_message(
        address=address_for(key, "p2tr" if kind == "p2wpkh" else "p2wpkh"), message=MESSAGE, signature=signature
    )


@pytest.mark.parametrize(
    ("address_kind", "header_kind"),
    [
        ("p2pkh", "p2pkh"),
        ("p2wpkh", "p2wpkh"),
        ("p2sh-p2wpkh", "p2sh-p2wpkh"),
        ("p2wpkh", "p2pkh"),  # Electrum/Sparrow sign segwit addresses with the compressed-P2PKH header
    ],
)
@pytest.mark.parametrize("network", ["regtest", "mainnet"])
def test_legacy_signed_message_is_valid(address_kind, header_kind, network):
    key = new_key()
    address = address_for(key, address_kind, network)
    signature = legacy_sign_message(key, MESSAGE, header_kind)
    assert verify_message(address=address, message=MESSAGE, signature=signature)
    assert not verify_message(address=address, message=MESSAGE + "!", signature=signature)
    assert not verify_message(
        address=address_for(new_key(), address_kind, network), message=MESSAGE, signature=signature
    )


def test_legacy_uncompressed_p2pkh_is_valid():
    key = new_key()
    address = uncompressed_p2pkh_address(key)
    signature = legacy_sign_message(key, MESSAGE, "p2pkh-uncompressed")
    assert verify_message(address=address, message=MESSAGE, signature=signature)
    # The same signature under a compressed header names another address.
    assert not verify_message(address=address_for(key, "p2pkh"), message=MESSAGE, signature=signature)


def test_legacy_header_must_match_the_address_type():
    key = new_key()
    signature = legacy_sign_message(key, MESSAGE, "p2wpkh")
    assert not verify_message(address=address_for(key, "p2pkh"), message=MESSAGE, signature=signature)
    assert not verify_message(address=address_for(key, "p2tr"), message=MESSAGE, signature=signature)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x00" * 65).decode(),
        base64.b64encode(bytes([31]) + b"\xff" * 64).decode(),
        base64.b64encode(b"\x02\x47" + b"\x01" * 40).decode(),
        "AAAA",
        None,
        12,
    ],
)
def test_garbage_signatures_are_false(signature):
    address = address_for(new_key(), "p2wpkh")
    assert verify_message(address=address, message=MESSAGE, signature=signature) is False


@pytest.mark.parametrize("address", ["", "nope", "bc1qxxxx", "1111111111111111111114oLvT2", None])
def test_garbage_addresses_are_false(address):
    key = new_key()
    signature = bip322_sign_simple(key, "p2wpkh", address_for(key, "p2wpkh"), MESSAGE)
    assert verify_message(address=address, message=MESSAGE, signature=signature) is False
