"""SNIP-12 sign-in through POST /api/auth/wallet-connect, verified by the account contract on the Starknet double."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from starknet_py.hash.address import compute_address

from apps.accounts.models import Wallet
from tests.doubles.starknet_rpc import ACCOUNT_CLASS_HASH
from tests.doubles.starknet_signing import keypair, sign_typed_data
from tests.helpers import assert_error_shape, fresh_nonce, snip12_sign_in, wallet_sign_in

URL = "/api/auth/wallet-connect"
pytestmark = pytest.mark.django_db


def _connect(client, account, typed, *, signer_key=None, **extra):
    signature = sign_typed_data(signer_key or account.private_key, account.address, typed)
    body = {"wallet_address": account.address, "wallet_type": "argent", "message": typed, "signature": signature}
    return client.post(URL, {**body, **extra}, format="json")


def test_snip12_sign_in_creates_the_user_and_signs_in_again(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    first = _connect(client, starknet_account, typed)
    assert first.status_code == 200, first.content
    assert first.json()["message"] == "Wallet connected and user created"
    wallet = Wallet.objects.get()
    assert (wallet.chain_kind, wallet.address) == ("starknet", f"0x{int(starknet_account.address, 16):064x}")

    again = _connect(
        client, starknet_account, snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    )
    assert again.status_code == 200, again.content
    assert again.json()["user"]["id"] == first.json()["user"]["id"]


def test_the_message_may_come_as_a_json_string_and_the_signature_as_text(starknet_chain, starknet_account):
    import json

    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, typed)
    response = client.post(
        URL,
        {
            "wallet_address": starknet_account.address,
            "wallet_type": "braavos",
            "message": json.dumps(typed),
            "signature": ",".join(signature),
        },
        format="json",
    )
    assert response.status_code == 200, response.content


def test_a_replayed_nonce_is_refused(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    assert _connect(client, starknet_account, typed).status_code == 200
    assert_error_shape(_connect(client, starknet_account, typed), 401, "invalid_nonce")


def test_a_message_for_another_chain_is_refused(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client), chain_id="SN_MAIN")
    assert_error_shape(_connect(client, starknet_account, typed), 401, "chain_not_allowed")


def test_a_signature_by_another_key_is_refused(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    response = _connect(client, starknet_account, typed, signer_key=keypair().private_key)
    assert_error_shape(response, 401, "invalid_signature")
    assert not Wallet.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": "Phishing dApp"}, "domain_mismatch"),
        ({"domain": "evil.example"}, "domain_mismatch"),
        ({"expires_in": timedelta(seconds=-1)}, "message_expired"),
    ],
)
def test_a_message_for_another_site_or_out_of_date_is_refused(starknet_chain, starknet_account, change, code):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client), **change)
    assert_error_shape(_connect(client, starknet_account, typed), 401, code)


def test_a_message_signed_for_another_address_is_refused(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address="0x1234", nonce=fresh_nonce(client))
    assert_error_shape(_connect(client, starknet_account, typed), 401, "address_mismatch")


def test_an_account_not_deployed_yet_signs_in_with_its_deployment_data(starknet_chain, starknet_node):
    keys = keypair()
    class_hash = ACCOUNT_CLASS_HASH
    address = hex(compute_address(class_hash=class_hash, constructor_calldata=[keys.public_key], salt=keys.public_key))
    deployment = {
        "class_hash": hex(class_hash),
        "salt": hex(keys.public_key),
        "constructor_calldata": [hex(keys.public_key)],
    }

    class Undeployed:
        private_key = keys.private_key

    Undeployed.address = address
    client = APIClient()
    typed = snip12_sign_in(address=address, nonce=fresh_nonce(client))
    assert_error_shape(_connect(client, Undeployed, typed), 401, "invalid_signature")  # no contract, no data

    typed = snip12_sign_in(address=address, nonce=fresh_nonce(client))
    forged = {**deployment, "constructor_calldata": [hex(keypair().public_key)]}
    assert_error_shape(_connect(client, Undeployed, typed, account_deployment=forged), 401, "invalid_signature")

    typed = snip12_sign_in(address=address, nonce=fresh_nonce(client))
    response = _connect(client, Undeployed, typed, account_deployment=deployment)
    assert response.status_code == 200, response.content


def test_a_starknet_wallet_links_to_an_evm_account(starknet_chain, starknet_account, alice, api_client_for):
    client = api_client_for(alice)
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, typed)
    body = {
        "wallet_address": starknet_account.address,
        "wallet_type": "argent",
        "message": typed,
        "signature": signature,
    }
    response = client.post("/api/auth/wallets", body, format="json")
    assert response.status_code in (200, 201), response.content
    assert set(alice.wallets.values_list("chain_kind", flat=True)) == {"evm", "starknet"}

    # Signing in with the Starknet wallet now opens Alice's account.
    other = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(other))
    signed_in = _connect(other, starknet_account, typed)
    assert signed_in.json()["user"]["id"] == str(alice.pk)


def test_the_node_down_is_a_503_and_the_nonce_stays_usable(settings, starknet_chain, starknet_account):
    settings.CHAINS = {
        **settings.CHAINS,
        "starknet": {**settings.CHAINS["starknet"], "rpc_urls": ["http://127.0.0.1:9"]},
    }
    client = APIClient()
    nonce = fresh_nonce(client)
    typed = snip12_sign_in(address=starknet_account.address, nonce=nonce)
    assert_error_shape(_connect(client, starknet_account, typed), 503, "chain_unavailable")


def test_evm_sign_in_still_works_next_to_starknet(starknet_chain, signer):
    assert wallet_sign_in(APIClient(), signer)["token"]


def test_a_signature_over_another_typed_message_cannot_be_replayed_as_a_sign_in(starknet_chain, starknet_account):
    """Only the declared types are hashed: a 'Hello' message signed for the EngiPay domain, with sign-in fields
    added beside it, would hash the same. The exact SignIn type is required."""
    client = APIClient()
    hello = {
        "types": {
            "StarknetDomain": snip12_sign_in(address=starknet_account.address, nonce="x")["types"]["StarknetDomain"],
            "Hello": [{"name": "text", "type": "shortstring"}],
        },
        "primaryType": "Hello",
        "domain": {"name": "EngiPay", "version": "1", "chainId": "SN_SEPOLIA", "revision": "1"},
        "message": {"text": "hi"},
    }
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, hello)
    sign_in = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))["message"]
    forged = {**hello, "message": {**hello["message"], **sign_in}}
    body = {
        "wallet_address": starknet_account.address,
        "wallet_type": "argent",
        "message": forged,
        "signature": signature,
    }
    assert_error_shape(client.post(URL, body, format="json"), 401, "invalid_message")

    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    typed["types"]["SignIn"].append({"name": "extra", "type": "felt"})
    typed["message"]["extra"] = "0x1"
    assert_error_shape(_connect(client, starknet_account, typed), 401, "invalid_message")


@pytest.mark.parametrize(
    "change",
    [
        {"signature": ["0x" + "f" * 64, "0x1"]},
        {"signature": ["-5", "7"]},
        {"signature": "not,felts"},
        {"account_deployment": {"class_hash": "-1", "salt": "0x1", "constructor_calldata": "0x1"}},
        {"account_deployment": {"class_hash": "0x" + "f" * 64, "salt": "0x1", "constructor_calldata": ["0x1"]}},
        {"account_deployment": ["not", "an", "object"]},
    ],
)
def test_malformed_felts_are_a_clear_401_never_a_500(starknet_chain, change):
    keys = keypair()
    address = hex(
        compute_address(class_hash=ACCOUNT_CLASS_HASH, constructor_calldata=[keys.public_key], salt=keys.public_key)
    )
    client = APIClient()
    typed = snip12_sign_in(address=address, nonce=fresh_nonce(client))
    body = {"wallet_address": address, "wallet_type": "argent", "message": typed, "signature": ["0x1", "0x2"], **change}
    response = client.post(URL, body, format="json")
    assert response.status_code == 401, response.content
    assert_error_shape(response)


def test_a_list_where_the_domain_should_be_is_refused(starknet_chain, starknet_account):
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, typed)
    typed["message"]["domain"] = ["testserver"]
    body = {
        "wallet_address": starknet_account.address,
        "wallet_type": "argent",
        "message": typed,
        "signature": signature,
    }
    assert_error_shape(client.post(URL, body, format="json"), 401, "domain_mismatch")


def test_undeployed_accounts_need_the_owner_key_and_a_known_account_class(starknet_chain):
    owner, thief = keypair(), keypair()
    address = hex(
        compute_address(class_hash=ACCOUNT_CLASS_HASH, constructor_calldata=[owner.public_key], salt=owner.public_key)
    )
    deployment = {
        "class_hash": hex(ACCOUNT_CLASS_HASH),
        "salt": hex(owner.public_key),
        "constructor_calldata": [hex(owner.public_key)],
    }

    class Thief:
        private_key = thief.private_key

    Thief.address = address
    client = APIClient()
    typed = snip12_sign_in(address=address, nonce=fresh_nonce(client))
    assert_error_shape(_connect(client, Thief, typed, account_deployment=deployment), 401, "invalid_signature")

    other_class = 0x1234
    stranger = hex(
        compute_address(class_hash=other_class, constructor_calldata=[owner.public_key], salt=owner.public_key)
    )

    class Unknown:
        private_key = owner.private_key

    Unknown.address = stranger
    deployment = {
        "class_hash": hex(other_class),
        "salt": hex(owner.public_key),
        "constructor_calldata": [hex(owner.public_key)],
    }
    typed = snip12_sign_in(address=stranger, nonce=fresh_nonce(client))
    assert_error_shape(_connect(client, Unknown, typed, account_deployment=deployment), 401, "invalid_signature")


def test_a_rate_limited_node_is_a_503_not_a_wrong_signature(settings, starknet_chain, starknet_account):
    from tests.doubles.misbehaving import RATE_LIMITED, MisbehavingRpc

    with MisbehavingRpc(error=RATE_LIMITED) as node:
        settings.CHAINS = {**settings.CHAINS, "starknet": {**settings.CHAINS["starknet"], "rpc_urls": [node.url]}}
        client = APIClient()
        typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
        assert_error_shape(_connect(client, starknet_account, typed), 503, "chain_unavailable")


def test_only_the_sign_in_network_is_accepted(settings, starknet_chain, starknet_account, starknet_node):
    settings.CHAINS = {
        **settings.CHAINS,
        "starknet-main": {**settings.CHAINS["starknet"], "chain_id": "SN_MAIN"},
    }
    client = APIClient()
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client), chain_id="SN_MAIN")
    assert_error_shape(_connect(client, starknet_account, typed), 401, "chain_not_allowed")
