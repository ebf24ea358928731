"""Fixtures for the prices tests: a local CoinGecko, and Chainlink-compatible feeds deployed on the session anvil."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from apps.prices.tests.coingecko_fake import FakeCoinGecko
from apps.prices.tests.factories import TokenFactory


@pytest.fixture
def coingecko(settings) -> Iterator[FakeCoinGecko]:
    """The local CoinGecko (Demo host, keyless unless a test sets ``api_key``), used by the app's client."""
    fake = FakeCoinGecko()
    settings.COINGECKO_BASE_URL = fake.url
    settings.COINGECKO_API_KEY = None
    settings.COINGECKO_PLAN = "demo"
    yield fake
    fake.close()


@pytest.fixture
def make_token(db) -> Callable[..., object]:
    def make(symbol: str, *, coingecko_id: str = "", stale_after: int = 3600):
        return TokenFactory(symbol=symbol, coingecko_id=coingecko_id, price_stale_after_seconds=stale_after)

    return make


@pytest.fixture
def make_feed(db, anvil_w3) -> Callable[..., str]:
    """Deploy a ``DemoPriceFeed`` on anvil and register it as the token's Chainlink feed on chain ``local``.

    The answer is stamped with the wall clock (``updateAnswerAt``) unless ``updated_at`` is given, so other tests
    moving anvil's clock (evm_increaseTime) cannot make it look stale or from the future.
    """
    from apps.chains import devchain
    from apps.chains.models import PriceFeed

    def make(
        token,
        price: Decimal,
        *,
        decimals: int = 8,
        updated_at: int | None = None,
        stale_after: int = 3600,
        owner_index: int = 0,
        chain: str = "local",
    ) -> str:
        owner = devchain.dev_account(owner_index)
        answer = int(price.scaleb(decimals))
        address = devchain.deploy(anvil_w3, "DemoPriceFeed", [decimals, f"{token.symbol} / USD", answer], owner)
        feed_answer_set(anvil_w3, address, answer, updated_at or int(time.time()), owner_index=owner_index)
        PriceFeed.objects.update_or_create(
            token=token, chain=chain, defaults={"address": address, "stale_after_seconds": stale_after}
        )
        return address

    return make


def feed_answer_set(w3, address: str, answer: int, updated_at: int, *, owner_index: int = 0) -> None:
    from apps.chains import devchain

    owner = devchain.dev_account(owner_index)
    contract = devchain.feed_contract(w3, address)
    data = contract.functions.updateAnswerAt(answer, updated_at).build_transaction(
        {"from": owner.address, "gas": 200_000}
    )["data"]
    devchain.send(w3, owner, {"to": address, "data": data, "gas": 200_000})
