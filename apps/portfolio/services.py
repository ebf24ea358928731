"""Portfolio reads: balances of all of a user's verified wallets on every configured chain, valued in USD.

Per chain, one Multicall3 ``eth_call`` reads every (wallet, token) balance. A chain that does not answer is left
out and named in ``errors``: its assets are never filled in from older data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.accounts.models import ChainKind
from apps.chains.clients import BalanceQuery, client_for
from apps.chains.models import TokenDeployment
from apps.chains.registry import chains
from apps.prices.selectors import PriceQuote, prices_current
from engipay.api.errors import ApplicationError


@dataclass
class AssetBalance:
    deployment: TokenDeployment
    chain: str
    base_units: int = 0
    wallets: dict[str, int] = field(default_factory=dict)
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


def _evm_addresses(user) -> list[str]:
    return [w.address for w in user.wallets.all() if w.chain_kind == ChainKind.EVM]


def _read_chain(chain_key: str, owners: list[str], errors: list[dict[str, Any]]) -> tuple[list[AssetBalance], int]:
    deployments = list(TokenDeployment.objects.filter(chain=chain_key, token__is_active=True).select_related("token"))
    if not deployments:
        return [], 0
    queries = [BalanceQuery(owner, d.address) for d in deployments for owner in owners]
    snapshot = client_for(chain_key).balances(queries)
    assets = []
    for deployment in deployments:
        asset = AssetBalance(deployment=deployment, chain=chain_key)
        amounts = [snapshot.balances[BalanceQuery(owner, deployment.address)] for owner in owners]
        if any(amount is None for amount in amounts):
            # A balance we could not read is unknown, not zero: leave the asset out and say so.
            errors.append(
                {
                    "chain": chain_key,
                    "code": "balance_unreadable",
                    "message": f"{deployment.token.symbol} at {deployment.address} did not answer balanceOf.",
                }
            )
            continue
        for owner, amount in zip(owners, amounts, strict=True):
            asset.wallets[owner] = amount
            asset.base_units += amount
        assets.append(asset)
    return assets, snapshot.block.number


def portfolio_for_user(*, user, include_zero: bool = False) -> Portfolio:
    owners = _evm_addresses(user)
    assets: list[AssetBalance] = []
    errors: list[dict[str, Any]] = []
    blocks: dict[str, int] = {}
    for chain in chains():
        if chain.kind != "evm" or not owners:
            continue
        try:
            chain_assets, block = _read_chain(chain.key, owners, errors)
        except ApplicationError as exc:
            errors.append({"chain": chain.key, "code": exc.code, "message": exc.message})
            continue
        blocks[chain.key] = block
        assets.extend(a for a in chain_assets if include_zero or a.base_units > 0)
    quotes = prices_current({a.deployment.token.symbol for a in assets})
    for asset in assets:
        asset.price = quotes.get(asset.deployment.token.symbol)
    assets.sort(key=lambda a: (-(a.value_usd or Decimal(-1)), a.chain, a.deployment.token.symbol))
    return Portfolio(assets=assets, errors=errors, blocks=blocks, read_at=datetime.now(tz=UTC))
