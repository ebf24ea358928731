"""POST /api/transactions/prepare: the unsigned EIP-1559 transaction a wallet signs as it is."""

from __future__ import annotations

import pytest
from eth_account import Account
from rest_framework.test import APIClient

from apps.transactions.models import ChainTransaction
from tests.helpers import assert_error_shape

from .conftest import ETH

pytestmark = pytest.mark.django_db


def test_prepare_native_transfer_gives_a_transaction_eth_account_signs_as_is(chain, party, anvil_w3):
    alice, to = party(), Account.create().address
    response = alice.prepare(asset="ETH", to_address=to.lower(), amount="0.25")
    assert response.status_code == 200, response.content
    body = response.json()
    tx = body["transaction"]
    assert tx["type"] == "0x2"
    assert int(tx["chainId"], 16) == 31337
    assert tx["from"] == alice.address
    assert tx["to"] == to  # checksummed
    assert int(tx["value"], 16) == ETH // 4
    assert tx["data"] == "0x"
    assert int(tx["gas"], 16) == 21_000
    assert int(tx["nonce"], 16) == anvil_w3.eth.get_transaction_count(alice.address, "pending")
    assert int(tx["maxFeePerGas"], 16) >= int(tx["maxPriorityFeePerGas"], 16) > 0
    assert body["status"] == "awaiting_signature"
    assert (body["asset"], body["amount"], body["network"]) == ("ETH", "0.25", "local")
    fee = body["fee_estimate"]
    assert fee["asset"] == "ETH"
    assert fee["gas_limit"] == "21000"
    assert "price_usd" in fee
    assert "price_source" in fee
    signed = alice.signer.account.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == alice.address
    assert not ChainTransaction.objects.exists()  # nothing stored before it is signed


def test_prepare_token_transfer_calls_transfer_with_a_gas_margin(chain, party, deploy_token):
    alice, to = party(), Account.create().address
    token = deploy_token("TUSD", 6, {alice.address: 5 * 10**6})
    response = alice.prepare(asset="TUSD", to_address=to, amount="1.5")
    assert response.status_code == 200, response.content
    tx = response.json()["transaction"]
    assert tx["to"] == token
    assert int(tx["value"], 16) == 0
    assert tx["data"].startswith("0xa9059cbb")
    assert tx["data"].endswith(hex(1_500_000)[2:].rjust(64, "0"))
    fee = response.json()["fee_estimate"]
    assert int(fee["gas_limit"]) > int(fee["gas_estimate"]) > 21_000


def test_prepare_refuses_more_than_the_balance_plus_fee(chain, party):
    alice = party(balance=ETH // 10)
    response = alice.prepare(asset="ETH", to_address=Account.create().address, amount="0.1")
    error = assert_error_shape(response, 400, "insufficient_funds")
    assert "ETH" in error["message"]
    assert error["details"]["available"] == "0.1"


def test_prepare_refuses_more_tokens_than_held(chain, party, deploy_token):
    alice = party()
    deploy_token("TUSD", 6, {alice.address: 10**6})
    response = alice.prepare(asset="TUSD", to_address=Account.create().address, amount="2")
    error = assert_error_shape(response, 400, "insufficient_funds")
    assert error["details"] == {"asset": "TUSD", "required": "2", "available": "1"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "0.0000000000000000001"}, "too_precise"),
        ({"amount": "-1"}, "invalid_input"),
        ({"amount": "0"}, "invalid_input"),
        ({"amount": "abc"}, "invalid_input"),
        ({"amount": "NaN"}, "invalid_input"),
        ({"to_address": "0x1234"}, "invalid_input"),
        ({"to_address": "0x52908400098527886e0F7030069857D2E4169EE8"}, "invalid_input"),  # bad checksum
        ({"asset": "NOPE"}, "unknown_asset"),
        ({"network": "nowhere"}, "unknown_network"),
        ({"from_address": "0x000000000000000000000000000000000000dEaD"}, "not_your_wallet"),
    ],
)
def test_prepare_rejects_bad_input(chain, party, body, code):
    alice = party()
    request = {"asset": "ETH", "to_address": Account.create().address, "amount": "0.1", **body}
    assert_error_shape(alice.prepare(**request), 400, code)


def test_prepare_refuses_token_amounts_finer_than_the_token(chain, party, deploy_token):
    alice = party()
    deploy_token("TUSD", 6, {alice.address: 10**6})
    response = alice.prepare(asset="TUSD", to_address=Account.create().address, amount="0.0000001")
    assert assert_error_shape(response, 400, "too_precise")["details"] == {"decimals": 6}


def test_prepare_needs_authentication(chain):
    response = APIClient().post("/api/transactions/prepare", {}, format="json")
    assert_error_shape(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    "amount", ["1e999999", "1E5", "1e60", "9" * 101, "NaN", "Infinity", "-1", "0", "12.5.3", "1" + "0" * 80]
)
def test_absurd_amounts_are_400_never_500(chain, party, amount):
    alice = party()
    response = alice.prepare(asset="ETH", to_address=Account.create().address, amount=amount)
    assert_error_shape(response, 400)
    broadcast = alice.broadcast(
        asset="ETH", to_address=Account.create().address, amount=amount, signed_transaction="0x02"
    )
    assert_error_shape(broadcast, 400)
