"""Pytest fixtures (registered by the root conftest): a local Esplora double and the ``bitcoin`` chain on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.esplora import EsploraDouble


@pytest.fixture(scope="session")
def esplora() -> Iterator[EsploraDouble]:
    """A started Esplora double (regtest) for the whole session; tests keep apart by using fresh keys."""
    with EsploraDouble("regtest") as double:
        yield double


@pytest.fixture
def bitcoin_chain(settings, esplora) -> str:
    """Add the ``bitcoin`` chain (regtest, on the session's double) to ``CHAINS``; returns its key."""
    settings.CHAINS = {
        **settings.CHAINS,
        "bitcoin": {
            "kind": "bitcoin",
            "name": "Bitcoin (regtest double)",
            "chain_id": "regtest",
            "rpc_urls": [esplora.url],
            "confirmations": 1,
            "finality_depth": 3,
        },
    }
    return "bitcoin"
