"""Chainlink feeds read on a real anvil node: one Multicall3 eth_call per chain, staleness, bad answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.prices.models import AssetPrice
from apps.prices.services import prices_ingest
from apps.prices.tests.coingecko_fake import Coin
from apps.prices.tests.conftest import feed_answer_set
from apps.prices.tests.factories import AssetPriceFactory

pytestmark = pytest.mark.django_db


def test_every_feed_of_a_chain_is_read_in_one_eth_call_and_stored_exactly(
    settings, rpc_recorder, make_token, make_feed
):
    settings.PRICE_SOURCES = ["chainlink"]
    eth, btc = make_token("CLETH"), make_token("CLBTC")
    updated_at = int(time.time()) - 30
    make_feed(eth, Decimal("3012.34567891"), updated_at=updated_at)
    make_feed(btc, Decimal("90123.5"), decimals=18)
    rpc_recorder.reset()

    result = prices_ingest(symbols=["CLETH", "CLBTC"])

    assert rpc_recorder.methods == {"eth_call": 1}
    assert result.stored == {"CLETH": "chainlink:local", "CLBTC": "chainlink:local"}
    assert result.missing == []
    row = AssetPrice.objects.get(token=eth)
    assert row.price_usd == Decimal("3012.34567891")
    assert row.observed_at == datetime.fromtimestamp(updated_at, tz=UTC)
    assert row.source == "chainlink:local"
    assert (row.change_24h, row.market_cap, row.volume_24h) == (None, None, None)  # never invented
    assert AssetPrice.objects.get(token=btc).price_usd == Decimal("90123.5")


def test_a_stale_feed_is_not_used_and_coingecko_answers_instead(
    settings, local_chain, coingecko, make_token, make_feed
):
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    token = make_token("CLSTALE", coingecko_id="stale-coin")
    make_feed(token, Decimal("10"), updated_at=int(time.time()) - 7200, stale_after=3600)
    coingecko.coins["stale-coin"] = Coin(usd=Decimal("11.5"), usd_24h_change=Decimal("1.25"))

    result = prices_ingest(symbols=["CLSTALE"])

    assert result.stored == {"CLSTALE": "coingecko"}
    assert "stale" in result.rejected["CLSTALE"][0]
    assert list(AssetPrice.objects.filter(token=token).values_list("source", "price_usd")) == [
        ("coingecko", Decimal("11.5"))
    ]


def test_a_stale_feed_with_no_other_source_stores_nothing_and_is_reported_missing(
    settings, local_chain, make_token, make_feed, api_client
):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLOLD")
    make_feed(token, Decimal("10"), updated_at=int(time.time()) - 600, stale_after=300)

    result = prices_ingest(symbols=["CLOLD"])

    assert result.missing == ["CLOLD"]
    assert not AssetPrice.objects.filter(token=token).exists()
    assert api_client.get("/api/prices/current?symbols=CLOLD").json() == {"prices": {}, "missing": ["CLOLD"]}


def test_the_feed_heartbeat_and_the_token_limit_both_apply(settings, local_chain, make_token, make_feed):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLTIGHT", stale_after=60)  # the token is stricter than the feed's heartbeat
    make_feed(token, Decimal("5"), updated_at=int(time.time()) - 120, stale_after=3600)
    assert prices_ingest(symbols=["CLTIGHT"]).missing == ["CLTIGHT"]


@pytest.mark.parametrize("answer", [0, -1])
def test_a_non_positive_answer_is_rejected(settings, local_chain, make_token, make_feed, anvil_w3, answer):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLZERO")
    address = make_feed(token, Decimal("1"))
    feed_answer_set(anvil_w3, address, answer, int(time.time()))

    result = prices_ingest(symbols=["CLZERO"])

    assert result.missing == ["CLZERO"]
    assert "not positive" in result.rejected["CLZERO"][0]
    assert not AssetPrice.objects.filter(token=token).exists()


def test_an_answer_stamped_in_the_future_is_not_believed(settings, local_chain, make_token, make_feed):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLFUTURE")
    make_feed(token, Decimal("7"), updated_at=int(time.time()) + 3600)
    assert prices_ingest(symbols=["CLFUTURE"]).missing == ["CLFUTURE"]


def test_a_dead_chain_falls_back_to_coingecko_and_says_why(settings, coingecko, make_token, db):
    from apps.chains.models import PriceFeed
    from conftest import free_port

    settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [f"http://127.0.0.1:{free_port()}"]}}
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    token = make_token("CLDOWN", coingecko_id="down-coin")
    PriceFeed.objects.create(token=token, chain="local", address="0x" + "11" * 20)
    coingecko.coins["down-coin"] = Coin(usd=Decimal("2"))

    started = time.monotonic()
    result = prices_ingest(symbols=["CLDOWN"])

    assert time.monotonic() - started < 10
    assert result.stored == {"CLDOWN": "coingecko"}
    assert "did not answer" in result.errors["chainlink"]


def test_a_feed_address_without_a_contract_gives_no_price(settings, local_chain, make_token, db):
    from apps.chains.models import PriceFeed

    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLNOCODE")
    PriceFeed.objects.create(token=token, chain="local", address="0x" + "22" * 20)
    assert prices_ingest(symbols=["CLNOCODE"]).missing == ["CLNOCODE"]


def test_change_24h_comes_from_the_price_stored_a_day_earlier(settings, local_chain, make_token, make_feed):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLCHG")
    now = int(time.time())
    AssetPriceFactory(
        token=token,
        price_usd=Decimal("2000"),
        source="chainlink:local",
        observed_at=datetime.fromtimestamp(now, tz=UTC) - timedelta(hours=24, minutes=10),
    )
    make_feed(token, Decimal("2100"), updated_at=now)

    prices_ingest(symbols=["CLCHG"])

    latest = AssetPrice.objects.filter(token=token).order_by("-observed_at").first()
    assert latest.price_usd == Decimal("2100")
    assert latest.change_24h == Decimal("5")


def test_no_change_24h_when_nothing_was_stored_near_a_day_earlier(settings, local_chain, make_token, make_feed):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("CLNOCHG")
    AssetPriceFactory(token=token, price_usd=Decimal("2000"), observed_at=timezone.now() - timedelta(days=3))
    make_feed(token, Decimal("2100"))
    prices_ingest(symbols=["CLNOCHG"])
    assert AssetPrice.objects.filter(token=token).order_by("-observed_at").first().change_24h is None
