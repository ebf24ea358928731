from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.chains.models import PriceFeed, Token, TokenDeployment

pytestmark = pytest.mark.django_db
FIXTURE = "fixtures/registry/ethereum-mainnet.json"


def test_the_mainnet_registry_loads_and_loading_again_changes_nothing(settings):
    settings.CHAINS = {"ethereum": {"kind": "evm", "chain_id": 1, "rpc_urls": ["http://127.0.0.1:1"]}}
    for _ in range(2):
        call_command("chain_registry_load", FIXTURE, "--chain", "ethereum", stdout=StringIO())
    assert TokenDeployment.objects.filter(chain="ethereum").count() == 5
    usdc = TokenDeployment.objects.get(chain="ethereum", token__symbol="USDC")
    assert (usdc.address, usdc.decimals) == ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6)
    assert TokenDeployment.objects.get(chain="ethereum", token__symbol="ETH").is_native
    assert PriceFeed.objects.get(chain="ethereum", token__symbol="USDC").stale_after_seconds == 86400
    assert Token.objects.get(symbol="USDC").price_stale_after_seconds == 90000


def test_a_registry_for_another_chain_id_is_refused(settings):
    settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": ["http://127.0.0.1:1"]}}
    with pytest.raises(CommandError, match="chain id 1"):
        call_command("chain_registry_load", FIXTURE, "--chain", "local", stdout=StringIO())
    assert not TokenDeployment.objects.exists()


def test_the_starknet_registry_loads_with_felt_addresses(settings):
    settings.CHAINS = {"starknet": {"kind": "starknet", "chain_id": "SN_MAIN", "rpc_urls": ["http://127.0.0.1:1"]}}
    call_command(
        "chain_registry_load", "fixtures/registry/starknet-mainnet.json", "--chain", "starknet", stdout=StringIO()
    )
    assert TokenDeployment.objects.filter(chain="starknet").count() == 5
    usdc = TokenDeployment.objects.get(chain="starknet", token__symbol="USDC")
    assert (usdc.address, usdc.decimals) == ("0x053c91253bc9682c04929ca02ed00b3e423f6710d2ee7e0d5ebb06f3ecf368a8", 6)
    assert not TokenDeployment.objects.filter(chain="starknet", is_native=True).exists()


def test_a_registry_for_another_chain_kind_is_refused(settings):
    settings.CHAINS = {"bitcoin": {"kind": "bitcoin", "chain_id": "SN_MAIN", "rpc_urls": ["http://127.0.0.1:1"]}}
    with pytest.raises(CommandError, match="starknet chains"):
        call_command(
            "chain_registry_load", "fixtures/registry/starknet-mainnet.json", "--chain", "bitcoin", stdout=StringIO()
        )
