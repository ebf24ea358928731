"""The edge cache in front of Django (engipay/edge_cache.py), through the project's real ASGI application and Redis:
anonymous help searches are answered from Redis after the first, edits show at once, signed-in requests and errors
are never cached, and the anonymous throttle still holds."""

from __future__ import annotations

import httpx
import pytest
from asgiref.sync import sync_to_async

from apps.helpcenter.tests.factories import ArticleFactory, CategoryFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def client():
    from engipay.asgi import application

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")


@pytest.fixture
def articles(db):
    wallets = CategoryFactory(slug="wallets", name="Wallets")
    return ArticleFactory(slug="connect-a-wallet", title="Connect a wallet", category=wallets)


async def test_the_second_anonymous_search_is_served_from_the_cache(client, articles):
    first = await client.get("/api/help/articles", params={"search": "wallet", "limit": 5})
    second = await client.get("/api/help/articles", params={"limit": 5, "search": "wallet"})  # same, reordered
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["x-edge-cache"], second.headers["x-edge-cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert [a["id"] for a in second.json()["articles"]] == ["connect-a-wallet"]
    for name in ("content-type", "x-content-type-options", "referrer-policy"):
        assert second.headers.get(name) == first.headers.get(name), name


async def test_an_edit_shows_at_once(client, articles):
    await client.get("/api/help/articles", params={"search": "wallet"})
    assert (await client.get("/api/help/articles", params={"search": "wallet"})).headers["x-edge-cache"] == "hit"
    await sync_to_async(ArticleFactory)(
        slug="wallet-backups", title="Wallet backups", category=articles.category
    )  # a save bumps the help center's content version (on commit)
    after = await client.get("/api/help/articles", params={"search": "wallet"})
    assert after.headers["x-edge-cache"] == "miss"
    assert {a["id"] for a in after.json()["articles"]} == {"connect-a-wallet", "wallet-backups"}


async def test_signed_in_requests_and_errors_are_not_cached(client, articles, alice):
    token = {"Authorization": f"Bearer {alice.auth['token']}"}
    for _ in range(2):
        signed_in = await client.get("/api/help/articles", params={"search": "wallet"}, headers=token)
        assert signed_in.status_code == 200
        assert "x-edge-cache" not in signed_in.headers
    for expected in ("miss", "miss"):
        refused = await client.get("/api/help/articles", params={"category": "no-such-category"})
        assert refused.status_code == 400
        assert refused.headers["x-edge-cache"] == expected


async def test_the_anonymous_throttle_still_holds(client, articles, settings):
    # A day-long window: the test cannot straddle a window boundary.
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "3/day"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        answers = [await client.get("/api/help/articles", params={"search": "wallet"}) for _ in range(8)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert [a.status_code for a in answers].count(200) == 3  # the rate, however the requests were answered
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused.headers["retry-after"]) > 0


async def test_repeated_parameters_are_not_mixed_up(client, articles):
    first = await client.get("/api/help/articles?search=wallet&search=zzzqqq")  # Django reads the last value
    second = await client.get("/api/help/articles?search=zzzqqq&search=wallet")
    assert (first.json()["total_count"], second.json()["total_count"]) == (0, 1)
    assert second.headers["x-edge-cache"] == "miss"


async def test_each_origin_gets_its_own_entry_and_cookies_bypass(client, articles, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.engipay.test"]
    plain = await client.get("/api/help/articles", params={"search": "wallet"})
    with_origin = await client.get(
        "/api/help/articles", params={"search": "wallet"}, headers={"Origin": "https://app.engipay.test"}
    )
    assert (plain.headers["x-edge-cache"], with_origin.headers["x-edge-cache"]) == ("miss", "miss")
    again = await client.get(
        "/api/help/articles", params={"search": "wallet"}, headers={"Origin": "https://app.engipay.test"}
    )
    assert again.headers["x-edge-cache"] == "hit"
    assert again.headers.get("access-control-allow-origin") == with_origin.headers.get("access-control-allow-origin")
    cookie = await client.get("/api/help/articles", params={"search": "wallet"}, headers={"Cookie": "sessionid=x"})
    assert "x-edge-cache" not in cookie.headers


async def test_a_host_django_refuses_is_refused_not_served_from_the_cache(client, articles):
    await client.get("/api/help/articles", params={"search": "wallet"})
    foreign = await client.get("/api/help/articles", params={"search": "wallet"}, headers={"Host": "evil.example"})
    assert foreign.status_code == 400
    assert "x-edge-cache" not in foreign.headers


async def test_odd_header_bytes_are_not_a_500(client, articles):
    response = await client.get(
        "/api/help/articles", params={"search": "wallet"}, headers={"Origin": b"https://\xe9xample.test"}
    )
    assert response.status_code == 200
