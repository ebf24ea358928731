"""Load a chain's tokens and Chainlink feeds from a JSON file in fixtures/registry/ (idempotent upsert)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from web3 import Web3

from apps.accounts.addresses import normalize_starknet
from apps.chains.models import NATIVE_ADDRESS, PriceFeed, Token, TokenDeployment
from apps.chains.registry import ChainConfig, chains


class Command(BaseCommand):
    help = "Upsert tokens, their deployments and price feeds for one configured chain from a registry JSON file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--chain", required=True, help="The key of the chain in CHAINS.")

    def handle(self, *args, path: Path, chain: str, **options) -> None:
        configured = {c.key: c for c in chains()}
        if chain not in configured:
            raise CommandError(f"{chain!r} is not a configured chain ({', '.join(configured) or 'none'}).")
        data = json.loads(path.read_text())
        config = configured[chain]
        if str(config.chain_id) != str(data["chain_id"]):
            raise CommandError(f"{path} is for chain id {data['chain_id']}, {chain} is {config.chain_id}.")
        if data.get("kind", "evm") != config.kind:
            raise CommandError(f"{path} is for {data.get('kind', 'evm')} chains, {chain} is {config.kind}.")
        with transaction.atomic():
            for entry in data["tokens"]:
                self._load(config, entry)
        self.stdout.write(self.style.SUCCESS(f"{len(data['tokens'])} tokens loaded for {chain}."))

    def _load(self, config: ChainConfig, entry: dict) -> None:
        chain = config.key
        defaults = {"name": entry["name"], "coingecko_id": entry.get("coingecko_id", "")}
        if "price_stale_after_seconds" in entry:
            defaults["price_stale_after_seconds"] = entry["price_stale_after_seconds"]
        token, _ = Token.objects.update_or_create(symbol=entry["symbol"], defaults=defaults)
        native = bool(entry.get("native"))
        if native:
            address = NATIVE_ADDRESS
        elif config.kind == "starknet":
            address = normalize_starknet(entry["address"])
        else:
            address = Web3.to_checksum_address(entry["address"])
        TokenDeployment.objects.update_or_create(
            chain=chain, token=token, defaults={"address": address, "decimals": entry["decimals"], "is_native": native}
        )
        if entry.get("price_feed"):
            PriceFeed.objects.update_or_create(
                chain=chain,
                token=token,
                defaults={
                    "address": Web3.to_checksum_address(entry["price_feed"]),
                    "stale_after_seconds": entry.get("feed_heartbeat_seconds", 3600),
                },
            )
