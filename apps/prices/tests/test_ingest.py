"""Ingestion across sources: per-asset priority, fallback, idempotency."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.prices.models import AssetPrice
from apps.prices.services import prices_ingest
from apps.prices.tests.coingecko_fake import Coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sourced(local_chain, coingecko, make_token, make_feed):
    """ONE has a feed and a CoinGecko id; TWO only a CoinGecko id."""
    one = make_token("ONE", coingecko_id="one-coin")
    two = make_token("TWO", coingecko_id="two-coin")
    make_feed(one, Decimal("10"))
    coingecko.coins["one-coin"] = Coin(usd=Decimal("10.5"), usd_24h_change=Decimal("3"))
    coingecko.coins["two-coin"] = Coin(usd=Decimal("20"), usd_market_cap=Decimal("1000"))
    return one, two


def test_the_first_source_with_a_fresh_price_wins_per_asset(settings, two_sourced, coingecko):
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    result = prices_ingest(symbols=["ONE", "TWO"])
    assert result.stored == {"ONE": "chainlink:local", "TWO": "coingecko"}
    assert coingecko.requests[0].params["ids"] == "two-coin"  # ONE was never asked of CoinGecko
    assert AssetPrice.objects.count() == 2


def test_the_order_is_a_setting(settings, two_sourced):
    settings.PRICE_SOURCES = ["coingecko", "chainlink"]
    assert prices_ingest(symbols=["ONE", "TWO"]).stored == {"ONE": "coingecko", "TWO": "coingecko"}


def test_one_asset_can_have_its_own_order(settings, two_sourced):
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    settings.PRICE_SOURCES_BY_SYMBOL = {"ONE": ["coingecko"]}
    assert prices_ingest(symbols=["ONE", "TWO"]).stored == {"ONE": "coingecko", "TWO": "coingecko"}


def test_a_failed_source_falls_through_to_the_next(settings, two_sourced, coingecko):
    settings.PRICE_SOURCES = ["coingecko", "chainlink"]
    coingecko.fail_status = 500
    result = prices_ingest(symbols=["ONE", "TWO"])
    assert result.stored == {"ONE": "chainlink:local"}
    assert result.missing == ["TWO"]
    assert set(result.errors) == {"coingecko"}
    assert len(coingecko.requests) == 1  # a source that failed is not asked again in the same run


def test_ingesting_twice_stores_no_duplicates(settings, two_sourced):
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    first = prices_ingest(symbols=["ONE", "TWO"])
    second = prices_ingest(symbols=["ONE", "TWO"])
    assert set(first.stored) == {"ONE", "TWO"}
    assert second.stored == {}
    assert second.unchanged == {"ONE": "chainlink:local", "TWO": "coingecko"}
    assert AssetPrice.objects.count() == 2


def test_a_new_observation_is_a_new_row(settings, two_sourced, anvil_w3):
    from apps.chains.models import PriceFeed
    from apps.prices.tests.conftest import feed_answer_set

    settings.PRICE_SOURCES = ["chainlink"]
    prices_ingest(symbols=["ONE"])
    feed = PriceFeed.objects.get(token__symbol="ONE")
    feed_answer_set(anvil_w3, feed.address, 11 * 10**8, int(time.time()) + 1)
    assert prices_ingest(symbols=["ONE"]).stored == {"ONE": "chainlink:local"}
    assert list(AssetPrice.objects.order_by("observed_at").values_list("price_usd", flat=True)) == [
        Decimal("10"),
        Decimal("11"),
    ]


def test_inactive_tokens_are_not_priced(settings, two_sourced, coingecko):
    _one, two = two_sourced
    two.is_active = False
    two.save()
    settings.PRICE_SOURCES = ["coingecko"]
    assert prices_ingest(symbols=["ONE", "TWO"]).stored == {"ONE": "coingecko"}


def test_stored_prices_keep_every_digit_on_any_database(db):
    from decimal import Decimal

    from apps.prices.models import AssetPrice
    from apps.prices.tests.factories import AssetPriceFactory

    stored = AssetPriceFactory(
        price_usd=Decimal("1234.123456789012345678"), market_cap=Decimal("240000000000.12345678")
    )
    again = AssetPrice.objects.get(pk=stored.pk)
    assert again.price_usd == Decimal("1234.123456789012345678")
    assert again.market_cap == Decimal("240000000000.12345678")
