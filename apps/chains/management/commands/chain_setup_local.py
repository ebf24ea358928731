"""Prepare the local anvil chain for development: Multicall3, demo tokens, demo price feeds, registry rows.

Idempotent: anvil restarts empty and deploys land at the same addresses (same deployer, same nonces), so the
registry rows stay right; anything whose code is missing is deployed again.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from web3 import HTTPProvider, Web3

from apps.chains import devchain
from apps.chains.models import NATIVE_ADDRESS, PriceFeed, Token, TokenDeployment
from apps.chains.registry import chains


class Command(BaseCommand):
    help = "Install Multicall3, deploy demo ERC-20 tokens and price feeds on the local chain (chain id 31337)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", type=float, default=0, help="Seconds to wait for the node to answer.")
        parser.add_argument("--holders", type=int, default=3, help="Dev accounts #1..N receive demo tokens.")

    def handle(self, *args, wait: float, holders: int, **options) -> None:
        local = [c for c in chains() if c.kind == "evm" and int(c.chain_id) == devchain.LOCAL_CHAIN_ID]
        if not local:
            self.stdout.write("No local chain (31337) configured: nothing to set up.")
            return
        config = local[0]
        w3 = Web3(HTTPProvider(config.rpc_urls[0], request_kwargs={"timeout": 10}))
        deadline = time.monotonic() + wait
        while not w3.is_connected():
            if time.monotonic() > deadline:
                raise CommandError(f"No node at {config.rpc_urls[0]}")
            time.sleep(0.2)
        setup_local_chain(w3, config.key, holders=holders)
        self.stdout.write(self.style.SUCCESS(f"Local chain {config.key} ready: Multicall3, demo tokens, feeds."))


def _has_code(w3: Web3, address: str | None) -> bool:
    return bool(address) and len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0


def setup_local_chain(w3: Web3, chain_key: str, *, holders: int = 3) -> None:
    deployer = devchain.dev_account(0)
    devchain.install_multicall3(w3)
    eth = Token.objects.get(symbol="ETH")
    TokenDeployment.objects.update_or_create(
        chain=chain_key, token=eth, defaults={"address": NATIVE_ADDRESS, "decimals": 18, "is_native": True}
    )
    for demo in devchain.DEMO_TOKENS:
        token, _ = Token.objects.get_or_create(symbol=demo.symbol, defaults={"name": demo.name})
        current = TokenDeployment.objects.filter(chain=chain_key, token=token).first()
        if current is None or not _has_code(w3, current.address):
            supply = 10**9 * 10**demo.decimals
            address = devchain.deploy(
                w3, "DemoToken", [demo.name, demo.symbol, demo.decimals, deployer.address, supply], deployer
            )
            contract = devchain.token_contract(w3, address)
            for index in range(1, holders + 1):
                holder = devchain.dev_account(index).address
                amount = 10_000 * 10**demo.decimals
                data = contract.functions.transfer(holder, amount).build_transaction(
                    {"from": deployer.address, "gas": 100_000}
                )["data"]
                devchain.send(w3, deployer, {"to": address, "data": data, "gas": 100_000})
            TokenDeployment.objects.update_or_create(
                chain=chain_key, token=token, defaults={"address": address, "decimals": demo.decimals}
            )
    for symbol, price in devchain.DEMO_FEED_PRICES.items():
        token = Token.objects.filter(symbol=symbol).first()
        if token is None:
            continue
        current = PriceFeed.objects.filter(chain=chain_key, token=token).first()
        if current is None or not _has_code(w3, current.address):
            answer = int(price.scaleb(devchain.FEED_DECIMALS))
            address = devchain.deploy(
                w3, "DemoPriceFeed", [devchain.FEED_DECIMALS, f"{symbol} / USD", answer], deployer
            )
            PriceFeed.objects.update_or_create(chain=chain_key, token=token, defaults={"address": address})
