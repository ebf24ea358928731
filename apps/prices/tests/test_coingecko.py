"""CoinGecko through a local server speaking its documented wire format: keys, exact decimals, errors, history."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.prices.models import AssetPrice
from apps.prices.services import prices_ingest
from apps.prices.sources import CoinGeckoSource
from apps.prices.tests.coingecko_fake import Coin
from engipay.api.errors import UpstreamError, UpstreamUnavailable

pytestmark = pytest.mark.django_db

LONG = Decimal("3012.123456789012345678901")  # more digits than a binary float holds


def test_simple_price_is_parsed_to_exact_decimals_with_the_demo_key_header(settings, coingecko, make_token):
    coingecko.api_key = settings.COINGECKO_API_KEY = "demo-key-123"
    token = make_token("CGETH", coingecko_id="ethereum")
    coingecko.coins["ethereum"] = Coin(
        usd=LONG,
        usd_24h_change=Decimal("-1.234567890123456789"),
        usd_market_cap=Decimal("362000000000.123"),
        usd_24h_vol=Decimal("1.5E10"),
        last_updated_at=1_700_000_000,
    )

    (quote,) = CoinGeckoSource().fetch([token])

    assert quote.price_usd == LONG
    assert quote.change_24h == Decimal("-1.234567890123456789")
    assert quote.market_cap == Decimal("362000000000.123")
    assert quote.volume_24h == Decimal("15000000000")
    assert quote.observed_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    (seen,) = coingecko.requests
    assert seen.path == "/api/v3/simple/price"
    assert seen.headers["x-cg-demo-api-key"] == "demo-key-123"
    assert seen.params == {
        "ids": "ethereum",
        "vs_currencies": "usd",
        "include_market_cap": "true",
        "include_24hr_vol": "true",
        "include_24hr_change": "true",
        "include_last_updated_at": "true",
        "precision": "full",
    }


def test_the_pro_plan_sends_the_pro_header(settings, coingecko, make_token):
    coingecko.plan, coingecko.api_key = "pro", "pro-key"
    settings.COINGECKO_PLAN, settings.COINGECKO_API_KEY = "pro", "pro-key"
    coingecko.coins["bitcoin"] = Coin(usd=Decimal("90000"))
    (quote,) = CoinGeckoSource().fetch([make_token("CGBTC", coingecko_id="bitcoin")])
    assert quote.price_usd == Decimal("90000")
    assert "x-cg-demo-api-key" not in coingecko.requests[0].headers


def test_keyless_sends_no_key_and_unknown_ids_are_just_absent(coingecko, make_token):
    coingecko.coins["bitcoin"] = Coin(usd=Decimal("90000"), usd_24h_change=None)
    quotes = CoinGeckoSource().fetch(
        [make_token("CGBTC", coingecko_id="bitcoin"), make_token("CGNOPE", coingecko_id="no-such-coin")]
    )
    assert [(q.symbol, q.price_usd, q.change_24h) for q in quotes] == [("CGBTC", Decimal("90000"), None)]
    assert not [h for h in coingecko.requests[0].headers if h.startswith("x-cg-")]


def test_a_demo_key_is_refused_by_the_pro_host(settings, coingecko, make_token):
    coingecko.plan = "pro"
    settings.COINGECKO_API_KEY = "demo-key"
    with pytest.raises(UpstreamError) as caught:
        CoinGeckoSource().fetch([make_token("CGX", coingecko_id="x")])
    assert caught.value.status_code == 502
    assert caught.value.details["error_code"] == 10011


def test_a_wrong_key_is_an_upstream_error(settings, coingecko, make_token):
    coingecko.api_key, settings.COINGECKO_API_KEY = "right", "wrong"
    with pytest.raises(UpstreamError) as caught:
        CoinGeckoSource().fetch([make_token("CGX", coingecko_id="x")])
    assert caught.value.details["status"] == 401


def test_the_rate_limit_is_provider_unavailable_with_retry_after(coingecko, make_token):
    coingecko.rate_limited = 1
    with pytest.raises(UpstreamUnavailable) as caught:
        CoinGeckoSource().fetch([make_token("CGX", coingecko_id="x")])
    assert caught.value.status_code == 503
    assert caught.value.code == "provider_unavailable"
    assert caught.value.details == {"provider": "coingecko", "status": 429, "error_code": 429, "retry_after": 119}


def test_a_server_error_page_is_provider_unavailable(coingecko, make_token):
    coingecko.fail_status = 503
    with pytest.raises(UpstreamUnavailable) as caught:
        CoinGeckoSource().fetch([make_token("CGX", coingecko_id="x")])
    assert caught.value.details["status"] == 503


def test_an_unreachable_coingecko_is_provider_unavailable(settings, make_token):
    from conftest import free_port

    settings.COINGECKO_BASE_URL = f"http://127.0.0.1:{free_port()}/api/v3"
    with pytest.raises(UpstreamUnavailable):
        CoinGeckoSource().fetch([make_token("CGX", coingecko_id="x")])


def test_a_rate_limited_ingestion_stores_nothing_and_says_why(settings, coingecko, make_token):
    settings.PRICE_SOURCES = ["coingecko"]
    token = make_token("CGRL", coingecko_id="rl")
    coingecko.coins["rl"] = Coin(usd=Decimal("1"))
    coingecko.rate_limited = 1

    result = prices_ingest(symbols=["CGRL"])

    assert result.missing == ["CGRL"]
    assert "rate limit" in result.errors["coingecko"]
    assert not AssetPrice.objects.filter(token=token).exists()
    assert prices_ingest(symbols=["CGRL"]).stored == {"CGRL": "coingecko"}  # the next tick recovers


def test_tokens_without_a_coingecko_id_cost_no_request(coingecko, make_token):
    assert CoinGeckoSource().fetch([make_token("CGNOID")]) == []
    assert coingecko.requests == []


def test_backfill_stores_market_chart_history_once(coingecko, make_token):
    token = make_token("CGHIST", coingecko_id="hist")
    now_ms = int(time.time()) * 1000
    hour = 3_600_000
    coingecko.coins["hist"] = Coin(
        usd=Decimal("3"),
        chart=[
            (now_ms - 10 * 86_400_000, Decimal("1.0"), Decimal("100"), Decimal("10")),  # outside 7 days
            (now_ms - 2 * hour + 123, Decimal("2.1"), Decimal("200"), Decimal("20")),
            (now_ms - hour, Decimal("2.5"), Decimal("250"), Decimal("25")),
        ],
    )

    first, second = io.StringIO(), io.StringIO()
    call_command("prices_backfill", "--days", "7", "--symbols", "cghist", stdout=first)
    call_command("prices_backfill", "--days", "7", "--symbols", "CGHIST", stdout=second)

    rows = list(AssetPrice.objects.filter(token=token).order_by("observed_at"))
    assert [(r.price_usd, r.market_cap, r.volume_24h, r.source) for r in rows] == [
        (Decimal("2.1"), Decimal("200"), Decimal("20"), "coingecko"),
        (Decimal("2.5"), Decimal("250"), Decimal("25"), "coingecko"),
    ]
    assert rows[0].observed_at.microsecond == 123_000
    assert (first.getvalue(), second.getvalue()) == ("CGHIST: 2 new price(s)\n", "CGHIST: 0 new price(s)\n")
    assert coingecko.requests[0].params == {"vs_currency": "usd", "days": "7", "precision": "full"}
