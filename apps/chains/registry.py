"""The configured networks (``settings.CHAINS``), read in one place."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ChainConfig:
    key: str
    kind: str
    name: str
    chain_id: int | str
    rpc_urls: tuple[str, ...]
    confirmations: int


def chains() -> list[ChainConfig]:
    return [
        ChainConfig(
            key=key,
            kind=cfg["kind"],
            name=cfg.get("name", key),
            chain_id=cfg.get("chain_id"),
            rpc_urls=tuple(cfg.get("rpc_urls", [])),
            confirmations=int(cfg.get("confirmations", 1)),
        )
        for key, cfg in settings.CHAINS.items()
    ]


def chain(key: str) -> ChainConfig:
    """One configured network by key; an unknown key is a 400 naming the known ones."""
    from engipay.api.errors import InvalidInput

    for config in chains():
        if config.key == key:
            return config
    raise InvalidInput("unknown_network", f"Unknown network {key!r}.", {"known": [c.key for c in chains()]})


def native_symbol(config: ChainConfig) -> str:
    from django.conf import settings

    default = {"bitcoin": "BTC", "evm": "ETH"}.get(config.kind, "")  # Starknet has none: ETH and STRK are ERC-20s
    return settings.CHAINS[config.key].get("native_symbol", default)
