"""Portfolio reads: balances of all of a user's verified wallets on every configured chain (EVM, Starknet,
Bitcoin), valued in USD.

Each chain's client reads every (wallet, token) balance of its kind in one go (EVM: one Multicall3 ``eth_call``;
Starknet: concurrent ``balance_of`` calls at one block; Bitcoin: Esplora address stats), and the chains are read
concurrently. A chain that does not answer is left out and named in ``errors``: its assets are never filled in
from older data.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.chains.clients import BalanceQuery, BalanceSnapshot, client_for
from apps.chains.models import TokenDeployment
from apps.chains.registry import ChainConfig, chains
from apps.prices.selectors import PriceQuote, prices_current
from engipay.api.errors import ApplicationError

logger = logging.getLogger(__name__)


@dataclass
class AssetBalance:
    deployment: TokenDeployment
    chain: str
    base_units: int = 0
    wallets: dict[str, int] = field(default_factory=dict)
    unconfirmed: dict[str, int] = field(default_factory=dict)  # Bitcoin: the mempool's pending change per wallet
    price: PriceQuote | None = None

    @property
    def balance(self) -> Decimal:
        return Decimal(self.base_units).scaleb(-self.deployment.decimals)

    @property
    def value_usd(self) -> Decimal | None:
        return None if self.price is None else self.balance * self.price.usd

    @property
    def change_24h_usd(self) -> Decimal | None:
        """USD gained over 24 h by holding this balance (value now - value at the price 24 h ago)."""
        if self.price is None or self.price.change_24h is None or self.value_usd is None:
            return None
        if self.price.change_24h <= -100:  # nothing to divide by: the price was 0 (or below) a day ago
            return None
        return self.value_usd - self.value_usd / (1 + self.price.change_24h / 100)


@dataclass
class Portfolio:
    assets: list[AssetBalance]
    errors: list[dict[str, Any]]
    blocks: dict[str, int]
    read_at: datetime


def _owners_by_kind(user) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for wallet in user.wallets.all():
        if wallet.verified_at is not None:
            owners.setdefault(wallet.chain_kind, []).append(wallet.address)
    return owners


@dataclass
class _Plan:
    chain: ChainConfig
    owners: list[str]
    deployments: list[TokenDeployment]


def _on_network(config: ChainConfig, addresses: list[str]) -> list[str]:
    """The addresses that belong to this network (a testnet Bitcoin address is not read on mainnet)."""
    if not addresses:
        return []
    client = client_for(config)
    mine = []
    for address in addresses:
        try:
            client.validate_address(address)
        except ApplicationError:
            continue
        mine.append(address)
    return mine


def _read(plan: _Plan) -> BalanceSnapshot:
    """One chain's balances; runs in a worker thread and touches no database (the plan holds the rows)."""
    queries = [BalanceQuery(owner, d.address) for d in plan.deployments for owner in plan.owners]
    return client_for(plan.chain).balances(queries)


def _assets_of(plan: _Plan, snapshot: BalanceSnapshot, errors: list[dict[str, Any]]) -> list[AssetBalance]:
    assets = []
    for deployment in plan.deployments:
        asset = AssetBalance(deployment=deployment, chain=plan.chain.key)
        keys = [BalanceQuery(owner, deployment.address) for owner in plan.owners]
        amounts = [snapshot.balances.get(key) for key in keys]
        if any(amount is None for amount in amounts):
            # A balance we could not read is unknown, not zero: leave the asset out and say so.
            errors.append(
                {
                    "chain": plan.chain.key,
                    "code": "balance_unreadable",
                    "message": f"{deployment.token.symbol} at {deployment.address} did not answer its balance read.",
                }
            )
            continue
        for owner, key, amount in zip(plan.owners, keys, amounts, strict=True):
            asset.wallets[owner] = amount
            asset.base_units += amount
            if key in snapshot.unconfirmed:
                asset.unconfirmed[owner] = snapshot.unconfirmed[key]
        assets.append(asset)
    return assets


def portfolio_for_user(*, user, include_zero: bool = False) -> Portfolio:
    """Every configured chain with a verified wallet of its kind is read at once, each in its own thread, so the
    endpoint takes about as long as the slowest chain. A chain that fails is named in ``errors``."""
    owners = _owners_by_kind(user)
    plans = []
    for config in chains():
        mine = _on_network(config, owners.get(config.kind, []))
        if not mine:
            continue
        deployments = list(
            TokenDeployment.objects.filter(chain=config.key, token__is_active=True).select_related("token")
        )
        if deployments:
            plans.append(_Plan(chain=config, owners=mine, deployments=deployments))
    assets: list[AssetBalance] = []
    errors: list[dict[str, Any]] = []
    blocks: dict[str, int] = {}
    if plans:
        with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="portfolio") as pool:
            futures = [(plan, pool.submit(_read, plan)) for plan in plans]
            for plan, future in futures:
                try:
                    snapshot = future.result()
                except ApplicationError as exc:
                    errors.append({"chain": plan.chain.key, "code": exc.code, "message": exc.message})
                    continue
                except Exception:
                    # A node answering nonsense must not take the other chains down with it.
                    logger.exception("Reading balances on %s failed", plan.chain.key)
                    errors.append(
                        {"chain": plan.chain.key, "code": "chain_error", "message": "The node's answer was unusable."}
                    )
                    continue
                blocks[plan.chain.key] = snapshot.block.number
                assets.extend(a for a in _assets_of(plan, snapshot, errors) if include_zero or a.base_units > 0)
    quotes = prices_current({a.deployment.token.symbol for a in assets})
    for asset in assets:
        asset.price = quotes.get(asset.deployment.token.symbol)
    assets.sort(key=lambda a: (-(a.value_usd or Decimal(-1)), a.chain, a.deployment.token.symbol))
    return Portfolio(assets=assets, errors=errors, blocks=blocks, read_at=datetime.now(tz=UTC))
