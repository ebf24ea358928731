"""One user, one wallet per chain kind (anvil EVM, the Starknet double, the Esplora double): the portfolio sums all
three, read concurrently; a chain that is down leaves a partial answer that names it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.chains.models import Token
from apps.prices.tests.factories import AssetPriceFactory
from tests.doubles.bitcoin_signing import address_for, bip322_sign_simple, new_key
from tests.doubles.starknet_signing import sign_typed_data
from tests.helpers import Signer, caip122_bitcoin_message, fresh_nonce, snip12_sign_in, wallet_sign_in

from .test_balances import native_eth

pytestmark = pytest.mark.django_db
URL = "/api/portfolio/balances/real"


def _link(client, body):
    response = client.post("/api/auth/wallets", body, format="json")
    assert response.status_code == 201, response.content


@pytest.fixture
def three_chain_user(local_chain, anvil_w3, starknet_chain, starknet_account, bitcoin_tokens, esplora):
    """Signed in with an EVM wallet; a Starknet account (SNIP-12) and a Bitcoin address (BIP-322) linked."""
    evm = Signer()
    auth = wallet_sign_in(APIClient(), evm)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")
    typed = snip12_sign_in(address=starknet_account.address, nonce=fresh_nonce(client))
    signature = sign_typed_data(starknet_account.private_key, starknet_account.address, typed)
    _link(
        client,
        {"wallet_address": starknet_account.address, "wallet_type": "argent", "message": typed, "signature": signature},
    )
    key = new_key()
    btc = address_for(key, "p2tr")
    message = caip122_bitcoin_message(address=btc, nonce=fresh_nonce(client))
    _link(
        client,
        {
            "wallet_address": btc,
            "wallet_type": "xverse",
            "message": message,
            "signature": bip322_sign_simple(key, "p2tr", btc, message),
        },
    )

    native_eth()
    anvil_w3.provider.make_request("anvil_setBalance", [evm.address, hex(15 * 10**17)])  # 1.5 ETH
    esplora.fund(btc, 25_000_000)  # 0.25 BTC
    esplora.mine(1)
    esplora.fund(btc, 1_000)  # in the mempool: unconfirmed
    for symbol, usd in [("ETH", "2000"), ("STRK", "0.5"), ("USDC", "1"), ("BTC", "60000")]:
        AssetPriceFactory(token=Token.objects.get(symbol=symbol), price_usd=Decimal(usd), source="chainlink:test")
    return client, evm.address, starknet_account.address, btc


def test_the_portfolio_sums_evm_starknet_and_bitcoin(three_chain_user):
    client, evm, starknet, btc = three_chain_user
    response = client.get(URL)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["errors"] == []
    assert set(data["blocks"]) == {"local", "starknet", "bitcoin"}
    rows = {(a["chain"], a["symbol"]): a for a in data["assets"]}
    assert rows[("local", "ETH")]["wallets"] == [{"address": evm, "balance": "1.5"}]
    assert rows[("starknet", "STRK")]["wallets"][0]["address"] == f"0x{int(starknet, 16):064x}"
    # The Starknet account was minted 10 STRK, 1 ETH and 100 USDC by the fixture (the double's own state).
    assert rows[("starknet", "STRK")]["balance"] == "10"
    assert rows[("starknet", "ETH")]["balance"] == "1"
    assert rows[("starknet", "USDC")]["balance"] == "100"
    assert rows[("bitcoin", "BTC")]["balance"] == "0.25"
    assert rows[("bitcoin", "BTC")]["wallets"] == [
        {"address": btc, "balance": "0.25", "unconfirmed_balance": "0.00001"}
    ]
    expected = Decimal("1.5") * 2000 + 10 * Decimal("0.5") + 1 * 2000 + 100 + Decimal("0.25") * 60000
    assert Decimal(str(data["total_value_usd"])) == expected


def test_one_chain_down_gives_a_partial_answer_that_names_it(settings, three_chain_user):
    client, *_ = three_chain_user
    settings.CHAINS = {
        **settings.CHAINS,
        "starknet": {**settings.CHAINS["starknet"], "rpc_urls": ["http://127.0.0.1:9"]},
    }
    response = client.get(URL)
    assert response.status_code == 200
    data = response.json()
    assert [(e["chain"], e["code"]) for e in data["errors"]] == [("starknet", "chain_unavailable")]
    assert {a["chain"] for a in data["assets"]} == {"local", "bitcoin"}
    assert set(data["blocks"]) == {"local", "bitcoin"}
    assert Decimal(str(data["total_value_usd"])) == Decimal("1.5") * 2000 + Decimal("0.25") * 60000


@pytest.mark.parametrize(
    "misbehaviour",
    [{"error": {"code": -32005, "message": "Too many requests"}}, {"result": {"unexpected": "shape"}}],
)
def test_a_node_answering_nonsense_gives_a_partial_answer_too(settings, three_chain_user, misbehaviour):
    from tests.doubles.misbehaving import MisbehavingRpc

    client, *_ = three_chain_user
    with MisbehavingRpc(**misbehaviour) as node:
        settings.CHAINS = {**settings.CHAINS, "starknet": {**settings.CHAINS["starknet"], "rpc_urls": [node.url]}}
        response = client.get(URL)
    assert response.status_code == 200, response.content
    data = response.json()
    assert [e["chain"] for e in data["errors"]] == ["starknet"]
    assert {a["chain"] for a in data["assets"]} == {"local", "bitcoin"}


def test_a_wallet_of_another_bitcoin_network_does_not_hide_the_others(three_chain_user):
    from apps.accounts.models import Wallet

    client, evm, *_ = three_chain_user
    user = Wallet.objects.get(address=evm).user
    # Linked while the deployment pointed at mainnet, say: it is not read on this regtest chain, and not an error.
    Wallet.objects.create(
        user=user,
        chain_kind="bitcoin",
        address="bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        wallet_type="xverse",
        verified_at=timezone.now(),
    )
    data = client.get(URL).json()
    assert data["errors"] == []
    assert next(a for a in data["assets"] if a["symbol"] == "BTC")["balance"] == "0.25"
