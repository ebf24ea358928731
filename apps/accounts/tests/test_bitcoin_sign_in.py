"""Bitcoin (Xverse) sign-in through POST /api/auth/wallet-connect: a CAIP-122 message signed with BIP-322 or the
legacy signmessage format."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Wallet
from tests.doubles.bitcoin_signing import address_for, bip322_sign_simple, legacy_sign_message, new_key
from tests.helpers import assert_error_shape, caip122_bitcoin_message, fresh_nonce

URL = "/api/auth/wallet-connect"
pytestmark = pytest.mark.django_db


def _connect(client, address, message, signature):
    body = {"wallet_address": address, "wallet_type": "xverse", "message": message, "signature": signature}
    return client.post(URL, body, format="json")


@pytest.mark.parametrize("kind", ["p2tr", "p2wpkh"])
def test_bip322_sign_in_creates_the_user(bitcoin_chain, kind):
    key = new_key()
    address = address_for(key, kind)
    client = APIClient()
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    response = _connect(client, address, message, bip322_sign_simple(key, kind, address, message))
    assert response.status_code == 200, response.content
    wallet = Wallet.objects.get()
    assert (wallet.chain_kind, wallet.address, wallet.wallet_type) == ("bitcoin", address, "xverse")


def test_a_legacy_signmessage_signature_works_too(bitcoin_chain):
    key = new_key()
    address = address_for(key, "p2pkh")
    client = APIClient()
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    response = _connect(client, address, message, legacy_sign_message(key, message, "p2pkh"))
    assert response.status_code == 200, response.content


def test_replays_other_keys_other_networks_and_old_messages_are_refused(bitcoin_chain):
    key = new_key()
    address = address_for(key, "p2wpkh")
    client = APIClient()
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    signature = bip322_sign_simple(key, "p2wpkh", address, message)
    assert _connect(client, address, message, signature).status_code == 200
    assert_error_shape(_connect(client, address, message, signature), 401, "invalid_nonce")

    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    other = new_key()
    forged = bip322_sign_simple(other, "p2wpkh", address_for(other, "p2wpkh"), message)  # another key's witness
    assert_error_shape(_connect(client, address, message, forged), 401, "invalid_signature")

    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client), network="mainnet")
    assert_error_shape(
        _connect(client, address, message, bip322_sign_simple(key, "p2wpkh", address, message)),
        401,
        "chain_not_allowed",
    )

    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client), expires_in=timedelta(seconds=-1))
    assert_error_shape(
        _connect(client, address, message, bip322_sign_simple(key, "p2wpkh", address, message)), 401, "message_expired"
    )

    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client), domain="evil.example")
    assert_error_shape(
        _connect(client, address, message, bip322_sign_simple(key, "p2wpkh", address, message)), 401, "domain_mismatch"
    )


def test_a_mainnet_address_is_refused_on_a_regtest_deployment(bitcoin_chain):
    key = new_key()
    address = address_for(key, "p2wpkh", network="mainnet")
    client = APIClient()
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    response = _connect(client, address, message, bip322_sign_simple(key, "p2wpkh", address, message))
    assert_error_shape(response, 401, "wrong_network")


def test_a_bitcoin_address_links_to_an_existing_account(bitcoin_chain, alice, api_client_for):
    key = new_key()
    address = address_for(key, "p2tr")
    client = api_client_for(alice)
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    body = {
        "wallet_address": address,
        "wallet_type": "xverse",
        "message": message,
        "signature": bip322_sign_simple(key, "p2tr", address, message),
    }
    assert client.post("/api/auth/wallets", body, format="json").status_code in (200, 201)
    assert set(alice.wallets.values_list("chain_kind", flat=True)) == {"evm", "bitcoin"}
