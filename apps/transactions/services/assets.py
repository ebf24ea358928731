"""Which asset a request means on a network, and which of the caller's wallets may send."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment
from apps.chains.registry import ChainConfig, chain, native_symbol
from engipay.api.errors import InvalidInput

NATIVE_DECIMALS = 18


@dataclass(frozen=True)
class AssetOnChain:
    token: Token
    contract: str | None  # None for the native coin
    decimals: int

    @property
    def is_native(self) -> bool:
        return self.contract is None


def evm_chain(network: str) -> ChainConfig:
    config = chain(network)
    if config.kind != "evm":
        raise InvalidInput("network_not_supported", f"Transactions on {config.kind} networks are not supported yet.")
    return config


def asset_on_chain(*, config: ChainConfig, symbol: str) -> AssetOnChain:
    deployment = (
        TokenDeployment.objects.select_related("token").filter(chain=config.key, token__symbol__iexact=symbol).first()
    )
    if deployment is not None:
        native = deployment.is_native or deployment.address.lower() == NATIVE_ADDRESS
        contract = None if native else Web3.to_checksum_address(deployment.address)
        return AssetOnChain(token=deployment.token, contract=contract, decimals=deployment.decimals)
    if symbol.upper() == native_symbol(config).upper():
        # The native coin needs no deployment row: it is the chain's own (18 decimals on every EVM chain).
        token = Token.objects.filter(symbol__iexact=symbol).first()
        if token is not None:
            return AssetOnChain(token=token, contract=None, decimals=NATIVE_DECIMALS)
    raise InvalidInput("unknown_asset", f"{symbol} is not available on {config.name}.", {"asset": symbol})


def asset_by_contract(*, config: ChainConfig, contract: str) -> AssetOnChain | None:
    deployment = (
        TokenDeployment.objects.select_related("token").filter(chain=config.key, address__iexact=contract).first()
    )
    if deployment is None or deployment.is_native:
        return None
    return AssetOnChain(
        token=deployment.token, contract=Web3.to_checksum_address(contract), decimals=deployment.decimals
    )


def native_asset(*, config: ChainConfig) -> AssetOnChain:
    return asset_on_chain(config=config, symbol=native_symbol(config))


def evm_wallets(user) -> list[str]:
    """The caller's verified EVM addresses (EIP-55), most recently used first."""
    return list(user.wallets.filter(chain_kind="evm", verified_at__isnull=False).values_list("address", flat=True))


def sender_for(*, user, from_address: str | None) -> str:
    wallets = evm_wallets(user)
    if from_address is not None:
        wanted = Web3.to_checksum_address(from_address)
        if wanted not in wallets:
            raise InvalidInput("not_your_wallet", "from_address is not one of your verified wallets.")
        return wanted
    if not wallets:
        raise InvalidInput("no_wallet", "Connect and verify an EVM wallet first.")
    return wallets[0]
