"""GET /api/portfolio/balances/real against a real anvil with real ERC-20 contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment
from tests.helpers import Signer, assert_error_shape, fresh_nonce, wallet_sign_in

pytestmark = pytest.mark.django_db
URL = "/api/portfolio/balances/real"


@pytest.fixture
def two_wallet_user(anvil_w3):
    """A user who signed in with one wallet and linked a second one, both proven by signatures."""
    first, second = Signer(), Signer()
    auth = wallet_sign_in(APIClient(), first)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")
    message = second.message(nonce=fresh_nonce(client))
    linked = client.post(
        "/api/auth/wallets",
        {
            "wallet_address": second.address,
            "wallet_type": "metamask",
            "message": message,
            "signature": second.sign(message),
        },
        format="json",
    )
    assert linked.status_code == 201
    return client, first.address, second.address


def native_eth(chain: str = "local") -> None:
    TokenDeployment.objects.update_or_create(
        chain=chain,
        token=Token.objects.get(symbol="ETH"),
        defaults={"address": NATIVE_ADDRESS, "decimals": 18, "is_native": True},
    )


def erc20_balance(w3, token: str, owner: str) -> int:
    from apps.chains.devchain import token_contract

    return token_contract(w3, token).functions.balanceOf(owner).call()


def test_balances_match_the_chain_across_two_wallets_in_one_eth_call(
    two_wallet_user, rpc_recorder, deploy_token, anvil_w3
):
    client, a, b = two_wallet_user
    native_eth()
    anvil_w3.provider.make_request("anvil_setBalance", [a, hex(1_234_567 * 10**12)])  # 1.234567 ETH
    anvil_w3.provider.make_request("anvil_setBalance", [b, hex(2 * 10**18)])
    tokens = {
        "TUSD": deploy_token("TUSD", 6, {a: 1_500_000, b: 250_001}),
        "TDAI": deploy_token("TDAI", 18, {a: 10**18 + 1}),
        "TBTC": deploy_token("TBTC", 8, {b: 12_345_678}),
    }
    rpc_recorder.reset()
    response = client.get(URL)
    assert response.status_code == 200, response.content
    assert rpc_recorder.methods == {"eth_call": 1}
    data = response.json()
    assert data["errors"] == []
    by_symbol = {asset["symbol"]: asset for asset in data["assets"]}
    assert set(by_symbol) == {"ETH", "TUSD", "TDAI", "TBTC"}
    eth_total = anvil_w3.eth.get_balance(a) + anvil_w3.eth.get_balance(b)
    assert Decimal(by_symbol["ETH"]["balance"]) == Decimal(eth_total).scaleb(-18)
    for symbol, address in tokens.items():
        decimals = by_symbol[symbol]["decimals"]
        chain_total = erc20_balance(anvil_w3, address, a) + erc20_balance(anvil_w3, address, b)
        assert Decimal(by_symbol[symbol]["balance"]) == Decimal(chain_total).scaleb(-decimals)
        assert by_symbol[symbol]["contract_address"] == address
        assert by_symbol[symbol]["chain"] == "local"
    assert by_symbol["TUSD"]["balance"] == "1.750001"
    assert by_symbol["TDAI"]["balance"] == "1.000000000000000001"
    assert {w["address"]: w["balance"] for w in by_symbol["TUSD"]["wallets"]} == {a: "1.5", b: "0.250001"}
    assert data["blocks"]["local"] == anvil_w3.eth.block_number


def test_the_number_of_tokens_does_not_change_the_number_of_calls(two_wallet_user, rpc_recorder, deploy_token):
    client, a, _ = two_wallet_user
    for i in range(12):
        deploy_token(f"M{i}", 18, {a: 10**18})
    rpc_recorder.reset()
    data = client.get(URL).json()
    assert len(data["assets"]) == 12
    assert rpc_recorder.methods == {"eth_call": 1}


def test_zero_balances_only_on_request(two_wallet_user, local_chain, deploy_token):
    client, a, _ = two_wallet_user
    deploy_token("ZERO", 18, {})
    deploy_token("SOME", 18, {a: 5})
    assert [x["symbol"] for x in client.get(URL).json()["assets"]] == ["SOME"]
    with_zero = client.get(URL, {"include_zero": "true"}).json()["assets"]
    assert {x["symbol"]: x["balance"] for x in with_zero} == {"ZERO": "0", "SOME": "0.000000000000000005"}


def test_a_chain_that_is_down_is_named_and_left_out(two_wallet_user, rpc_recorder, anvil, settings, deploy_token):
    client, a, _ = two_wallet_user
    settings.CHAINS = {**settings.CHAINS, "backup": {"kind": "evm", "chain_id": 31337, "rpc_urls": [anvil]}}
    address = deploy_token("UP", 6, {a: 7_000_000})
    TokenDeployment.objects.create(chain="backup", token=Token.objects.get(symbol="UP"), address=address, decimals=6)
    rpc_recorder.down = True
    response = client.get(URL)
    assert response.status_code == 200
    data = response.json()
    assert data["errors"] == [{"chain": "local", "code": "chain_unavailable", "message": data["errors"][0]["message"]}]
    assert [(x["symbol"], x["chain"], x["balance"]) for x in data["assets"]] == [("UP", "backup", "7")]
    assert "local" not in data["blocks"]


def test_an_asset_without_a_price_has_no_value_rather_than_a_made_up_one(two_wallet_user, local_chain, deploy_token):
    client, a, _ = two_wallet_user
    deploy_token("NOPRICE", 18, {a: 3 * 10**18})
    [asset] = client.get(URL).json()["assets"]
    assert asset["value_usd"] is None
    assert asset["price_usd"] is None
    assert asset["price_source"] is None


def test_needs_a_token_and_valid_flags(two_wallet_user, local_chain):
    assert_error_shape(APIClient().get(URL), 401)
    client, _, _ = two_wallet_user
    assert_error_shape(client.get(URL, {"include_zero": "perhaps"}), 400)


def test_values_come_from_an_on_chain_price_feed(two_wallet_user, local_chain, deploy_token, anvil_w3, settings):
    """The price is read from a deployed Chainlink-compatible feed by the ingestion service, never invented."""
    from apps.chains import devchain
    from apps.chains.models import PriceFeed
    from apps.prices.services import prices_ingest

    settings.PRICE_SOURCES = ["chainlink"]
    client, a, b = two_wallet_user
    deploy_token("FEEDX", 6, {a: 2_500_000, b: 500_000})  # 3 tokens in all
    feed = devchain.deploy(anvil_w3, "DemoPriceFeed", [8, "FEEDX / USD", 123_45000000], devchain.dev_account(0))
    PriceFeed.objects.create(token=Token.objects.get(symbol="FEEDX"), chain="local", address=feed)
    prices_ingest(symbols=["FEEDX"])
    data = client.get(URL).json()
    [asset] = data["assets"]
    assert asset["price_usd"] == 123.45
    assert asset["value_usd"] == 370.35
    assert asset["price_source"].startswith("chainlink")
    assert asset["price_stale"] is False
    assert data["total_value_usd"] == 370.35


def test_a_token_that_does_not_answer_is_reported_not_shown_as_zero(two_wallet_user, local_chain):
    client, _, _ = two_wallet_user
    from eth_account import Account

    TokenDeployment.objects.create(
        chain="local",
        token=Token.objects.create(symbol="GHOST", name="No contract"),
        address=Account.create().address,
        decimals=18,
    )
    data = client.get(URL, {"include_zero": "true"}).json()
    assert "GHOST" not in [a["symbol"] for a in data["assets"]]
    assert [(e["chain"], e["code"]) for e in data["errors"]] == [("local", "balance_unreadable")]


def test_stale_prices_are_flagged_and_kept_out_of_the_totals(two_wallet_user, local_chain, deploy_token):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from apps.prices.tests.factories import AssetPriceFactory

    client, a, _ = two_wallet_user
    deploy_token("OLD", 18, {a: 2 * 10**18})
    deploy_token("NEW", 18, {a: 3 * 10**18})
    AssetPriceFactory(
        token=Token.objects.get(symbol="OLD"), price_usd=Decimal("10"), observed_at=timezone.now() - timedelta(days=2)
    )
    AssetPriceFactory(token=Token.objects.get(symbol="NEW"), price_usd=Decimal("1.5"))
    data = client.get(URL).json()
    by_symbol = {x["symbol"]: x for x in data["assets"]}
    assert by_symbol["OLD"]["price_stale"] is True
    assert by_symbol["NEW"]["price_stale"] is False
    assert data["total_value_usd"] == 4.5
    assert data["stale_prices"] == ["OLD"]
