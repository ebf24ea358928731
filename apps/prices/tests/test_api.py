"""GET /api/prices/current and /api/prices/history through the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.chains.models import Token
from apps.prices.selectors import bucket_start, prices_current
from apps.prices.services import prices_ingest
from apps.prices.tests.coingecko_fake import Coin
from apps.prices.tests.factories import AssetPriceFactory
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- current ---------------------------------------------------------------------------------------------------


def test_current_has_the_guide_shape_with_source_and_staleness(
    settings, local_chain, coingecko, make_token, make_feed, api_client
):
    settings.PRICE_SOURCES = ["chainlink", "coingecko"]
    eth = make_token("APETH", coingecko_id="ap-eth")
    make_token("APBTC", coingecko_id="ap-btc")
    make_token("APNONE")
    updated = int(time.time()) - 5
    make_feed(eth, Decimal("2000.5"), updated_at=updated)
    coingecko.coins["ap-btc"] = Coin(
        usd=Decimal("42000.12"),
        usd_24h_change=Decimal("-0.81234"),
        usd_market_cap=Decimal("820000000000"),
        usd_24h_vol=Decimal("15000000000.5"),
        last_updated_at=updated,
    )
    prices_ingest(symbols=["APETH", "APBTC", "APNONE"])

    response = api_client.get("/api/prices/current?symbols=APETH,apbtc,APNONE")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "prices": {
            "APETH": {
                "usd": 2000.5,
                "change_24h": None,
                "change_7d": None,
                "market_cap": None,
                "volume_24h": None,
                "last_updated": _iso(datetime.fromtimestamp(updated, tz=UTC)),
                "source": "chainlink:local",
                "stale": False,
            },
            "APBTC": {
                "usd": 42000.12,
                "change_24h": -0.8123,
                "change_7d": None,
                "market_cap": 820000000000.0,
                "volume_24h": 15000000000.5,
                "last_updated": _iso(datetime.fromtimestamp(updated, tz=UTC)),
                "source": "coingecko",
                "stale": False,
            },
        },
        "missing": ["APNONE"],
    }
    assert b'"usd":2000.5' in response.content  # a JSON number, not a string


def test_an_old_price_is_served_as_stale_never_as_fresh(make_token, api_client):
    token = make_token("APOLD", stale_after=600)
    AssetPriceFactory(token=token, price_usd=Decimal("5"), observed_at=timezone.now() - timedelta(minutes=11))
    fresh = make_token("APNEW", stale_after=600)
    AssetPriceFactory(token=fresh, price_usd=Decimal("6"), observed_at=timezone.now() - timedelta(minutes=9))

    prices = api_client.get("/api/prices/current?symbols=APOLD,APNEW").json()["prices"]

    assert prices["APOLD"]["stale"] is True
    assert prices["APNEW"]["stale"] is False


def test_the_latest_price_wins_and_change_7d_comes_from_stored_prices(make_token, api_client):
    token = make_token("AP7D")
    now = timezone.now()
    AssetPriceFactory(token=token, price_usd=Decimal("80"), observed_at=now - timedelta(days=7, hours=3))
    AssetPriceFactory(token=token, price_usd=Decimal("100"), observed_at=now - timedelta(minutes=2), source="x")
    AssetPriceFactory(token=token, price_usd=Decimal("99"), observed_at=now - timedelta(minutes=3))

    quote = prices_current(["ap7d"])["AP7D"]

    assert (quote.usd, quote.change_7d, quote.source) == (Decimal("100"), Decimal("25"), "x")
    assert api_client.get("/api/prices/current?symbols=AP7D").json()["prices"]["AP7D"]["change_7d"] == 25


def test_without_a_filter_every_active_token_is_listed(make_token, api_client):
    Token.objects.update(is_active=False)
    AssetPriceFactory(token=make_token("APALL1"))
    make_token("APALL2")
    body = api_client.get("/api/prices/current").json()
    assert list(body["prices"]) == ["APALL1"]
    assert body["missing"] == ["APALL2"]


def test_an_unknown_symbol_is_a_400_listing_the_known_ones(make_token, api_client):
    Token.objects.update(is_active=False)
    make_token("APKNOWN")
    error = assert_error_shape(api_client.get("/api/prices/current?symbols=APKNOWN,NOPE"), 400, "unknown_symbol")
    assert error["details"] == {"unknown": ["NOPE"], "known": ["APKNOWN"]}


def test_too_many_symbols_is_a_400(db, api_client):
    symbols = ",".join(f"S{i}" for i in range(101))
    assert_error_shape(api_client.get(f"/api/prices/current?symbols={symbols}"), 400, "too_many_symbols")


def test_the_selector_takes_one_symbol_or_many(make_token):
    AssetPriceFactory(token=make_token("APONE"), price_usd=Decimal("3"))
    assert list(prices_current("APONE")) == list(prices_current(["apone", "NOT-A-TOKEN"])) == ["APONE"]


def test_prices_are_public_and_throttled_like_any_anonymous_call(db, api_client, throttle_rates):
    throttle_rates(anon="2/min")
    assert [api_client.get("/api/prices/current").status_code for _ in range(3)] == [200, 200, 429]
    assert_error_shape(api_client.get("/api/prices/history?symbol=ETH"), 429, "throttled")


# --- history ---------------------------------------------------------------------------------------------------


def test_history_takes_the_last_price_of_each_hour_and_leaves_empty_hours_out(make_token, api_client):
    token = make_token("APH")
    base = bucket_start(timezone.now() - timedelta(hours=5), timedelta(hours=1))
    series = [
        (timedelta(days=2), Decimal("1"), None),  # before the 24h period
        (timedelta(minutes=10), Decimal("100"), None),
        (timedelta(minutes=50), Decimal("101.25"), Decimal("7")),
        (timedelta(hours=1, minutes=5), Decimal("102"), Decimal("5")),
        (timedelta(hours=3, minutes=1), Decimal("103"), None),
        (timedelta(hours=3, minutes=59), Decimal("104"), None),
    ]
    for offset, price, volume in series:
        when = base - offset if offset == timedelta(days=2) else base + offset
        AssetPriceFactory(token=token, price_usd=price, volume_24h=volume, observed_at=when)

    response = api_client.get("/api/prices/history?symbol=aph&period=24h&interval=1h")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "symbol": "APH",
        "period": "24h",
        "interval": "1h",
        "data": [
            {"timestamp": _iso(base), "price": 101.25, "volume": 7.0},
            {"timestamp": _iso(base + timedelta(hours=1)), "price": 102.0, "volume": 5.0},
            {"timestamp": _iso(base + timedelta(hours=3)), "price": 104.0, "volume": None},
        ],
    }


def test_history_in_five_minute_buckets(make_token, api_client):
    token = make_token("AP5M")
    base = bucket_start(timezone.now() - timedelta(hours=1), timedelta(minutes=5))
    for minutes, price in [(1, "1"), (4, "2"), (5, "3"), (14, "4")]:
        AssetPriceFactory(token=token, price_usd=Decimal(price), observed_at=base + timedelta(minutes=minutes))
    data = api_client.get("/api/prices/history?symbol=AP5M&period=24h&interval=5m").json()["data"]
    assert [(p["timestamp"], p["price"]) for p in data] == [
        (_iso(base), 2),
        (_iso(base + timedelta(minutes=5)), 3),
        (_iso(base + timedelta(minutes=10)), 4),
    ]


def test_history_in_daily_buckets_over_a_year(make_token, api_client):
    token = make_token("AP1D")
    today = bucket_start(timezone.now(), timedelta(days=1))
    for when, price in [
        (today - timedelta(days=400), "1"),  # outside the year
        (today - timedelta(days=200, hours=-1), "2"),
        (today - timedelta(days=200, hours=-23), "3"),
        (today + timedelta(seconds=1), "4"),
    ]:
        AssetPriceFactory(token=token, price_usd=Decimal(price), observed_at=when)
    body = api_client.get("/api/prices/history?symbol=AP1D&period=1y&interval=1d").json()
    assert [(p["timestamp"], p["price"]) for p in body["data"]] == [
        (_iso(today - timedelta(days=200)), 3),
        (_iso(today), 4),
    ]


def test_history_defaults_to_7d_at_the_finest_interval_that_fits(make_token, api_client):
    make_token("APDEF")
    body = api_client.get("/api/prices/history?symbol=APDEF").json()
    assert (body["period"], body["interval"], body["data"]) == ("7d", "1h", [])
    assert api_client.get("/api/prices/history?symbol=APDEF&period=24h").json()["interval"] == "5m"
    assert api_client.get("/api/prices/history?symbol=APDEF&period=90d").json()["interval"] == "1d"


@pytest.mark.parametrize(
    ("query", "code", "details"),
    [
        (
            "symbol=APBAD&period=2d",
            "invalid_input",
            {"period": {"value": "2d", "allowed": ["24h", "7d", "30d", "90d", "1y"]}},
        ),
        ("symbol=APBAD&interval=2m", "invalid_input", {"interval": {"value": "2m", "allowed": ["5m", "1h", "1d"]}}),
        (
            "symbol=APBAD&period=1w&interval=1w",
            "invalid_input",
            {
                "period": {"value": "1w", "allowed": ["24h", "7d", "30d", "90d", "1y"]},
                "interval": {"value": "1w", "allowed": ["5m", "1h", "1d"]},
            },
        ),
        ("period=7d", "invalid_input", {"symbol": ["This field is required."]}),
        ("symbol=NOPE", "unknown_symbol", None),
        (
            "symbol=APBAD&period=1y&interval=5m",
            "too_many_points",
            {"points": 105120, "max_points": 1000, "allowed_intervals": ["1d"]},
        ),
        (
            "symbol=APBAD&period=7d&interval=5m",
            "too_many_points",
            {"points": 2016, "max_points": 1000, "allowed_intervals": ["1h", "1d"]},
        ),
    ],
)
def test_bad_history_parameters_are_400_naming_what_is_allowed(make_token, api_client, query, code, details):
    make_token("APBAD")
    error = assert_error_shape(api_client.get(f"/api/prices/history?{query}"), 400, code)
    if details is not None:
        assert error["details"] == details


def test_the_schema_documents_both_endpoints_with_examples(db, api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ["/api/prices/current", "/api/prices/history"]:
        operation = schema["paths"][path]["get"]
        assert operation["responses"]["200"]["content"]["application/json"]["examples"]
    price = schema["components"]["schemas"]["PriceQuoteOutput"]["properties"]
    assert price["usd"]["type"] == "number"


def test_the_admin_lists_prices_read_only(admin_client, make_token):
    AssetPriceFactory(token=make_token("APADM"), price_usd=Decimal("1.5"))
    page = admin_client.get("/admin/prices/assetprice/?source=coingecko")
    assert page.status_code == 200
    assert b"APADM" in page.content
    assert admin_client.get("/admin/prices/assetprice/add/").status_code == 403
