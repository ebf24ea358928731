"""Which asset a request means on a network, and which of the caller's wallets may send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.chains.clients import client_for
from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment
from apps.chains.registry import ChainConfig, native_symbol
from apps.prices.selectors import prices_current
from engipay.api.errors import InvalidInput, UpstreamUnavailable


@dataclass(frozen=True)
class AssetOnChain:
    token: Token
    contract: str | None  # None for the native coin
    decimals: int

    @property
    def is_native(self) -> bool:
        return self.contract is None


def _contract(config: ChainConfig, address: str) -> str:
    return client_for(config).validate_address(address)  # the spelling the chain client returns everywhere


def asset_on_chain(*, config: ChainConfig, symbol: str) -> AssetOnChain:
    deployment = (
        TokenDeployment.objects.select_related("token").filter(chain=config.key, token__symbol__iexact=symbol).first()
    )
    if deployment is not None:
        native = deployment.is_native or deployment.address.lower() == NATIVE_ADDRESS
        contract = None if native else _contract(config, deployment.address)
        return AssetOnChain(token=deployment.token, contract=contract, decimals=deployment.decimals)
    if symbol.upper() == native_symbol(config).upper():
        # The native coin needs no deployment row: it is the coin the chain's fees are paid in.
        token = Token.objects.filter(symbol__iexact=symbol).first()
        if token is not None:
            return AssetOnChain(token=token, contract=None, decimals=client_for(config).fee_asset().decimals)
    raise InvalidInput("unknown_asset", f"{symbol} is not available on {config.name}.", {"asset": symbol})


def asset_by_contract(*, config: ChainConfig, contract: str) -> AssetOnChain | None:
    deployment = (
        TokenDeployment.objects.select_related("token").filter(chain=config.key, address__iexact=contract).first()
    )
    if deployment is None or deployment.is_native:
        return None
    return AssetOnChain(token=deployment.token, contract=_contract(config, contract), decimals=deployment.decimals)


def native_asset(*, config: ChainConfig) -> AssetOnChain:
    return asset_on_chain(config=config, symbol=native_symbol(config))


def wallets_of(user, chain_kind: str = "evm") -> list[str]:
    """The caller's verified addresses on one chain kind (normalised spelling), most recently used first."""
    rows = user.wallets.filter(chain_kind=chain_kind, verified_at__isnull=False)
    return list(rows.values_list("address", flat=True))


def sender_for(*, user, from_address: str | None, chain_kind: str = "evm") -> str:
    """``from_address`` (normalised) if it is one of the caller's verified wallets, else their latest one."""
    wallets = wallets_of(user, chain_kind)
    if from_address is not None:
        if from_address not in wallets:
            raise InvalidInput("not_your_wallet", "from_address is not one of your verified wallets.")
        return from_address
    if not wallets:
        raise InvalidInput("no_wallet", f"Connect and verify a {chain_kind} wallet first.")
    return wallets[0]


def usd_price(symbol: str) -> tuple[Decimal | None, str | None]:
    """The current USD price and its source; (None, None) when there is none or it is stale (never guessed)."""
    quote = prices_current([symbol]).get(symbol.upper())
    if quote is None or quote.stale:
        return None, None
    return quote.usd, quote.source


def usd_value_for_limits(*, symbol: str, amount: Decimal | str, any_age: bool = False) -> Decimal:
    """The USD value of ``amount`` for the KYC limits: at the latest stored price up to KYC_PRICE_MAX_AGE_HOURS old
    (a little stale is fine for a limit; none at all refuses the transfer rather than let it through unvalued).
    ``any_age``: the latest price however old (a transfer that has happened is better counted at an old price than
    not at all)."""
    quote = prices_current([symbol]).get(symbol.upper())
    max_age = timedelta(hours=settings.KYC_PRICE_MAX_AGE_HOURS)
    if quote is None or (not any_age and timezone.now() - quote.last_updated > max_age):
        raise UpstreamUnavailable(
            "price_unavailable",
            f"There is no recent {symbol} price to check this transfer against your limits; try again shortly.",
            {"asset": symbol},
        )
    return Decimal(amount) * quote.usd


def limit_reference(network: str, tx_hash: str) -> str:
    """The KYC limit usage of a transaction (apps.kyc.services.limits)."""
    return f"tx:{network}:{tx_hash}"
