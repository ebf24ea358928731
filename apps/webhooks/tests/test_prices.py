"""The price webhook: a sane price from a sender configured for prices is stored (and becomes the current price and
fires alerts); an insane one is refused per symbol while the delivery, being authentic, is still accepted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.tasks import delivery_process
from tests.helpers import assert_error_shape

from .conftest import PRICES, WATCHER_SECRET, event_id, model, post_signed, price_store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("senders")]


def stored_price(symbol: str, price: str):
    return price_store(symbol, price, ago=timedelta(minutes=10))


def tokens():
    return model("chains.Token").objects


def point(symbol: str, price, *, at=None) -> dict:
    moment = at if at is not None else timezone.now() - timedelta(seconds=2)
    return {"symbol": symbol, "price_usd": price, "observed_at": moment.isoformat()}


def push(*points: dict, **signing) -> WebhookDelivery:
    response = post_signed(PRICES, {"id": event_id("prc"), "prices": list(points)}, **signing)
    assert response.status_code == 200, response.content
    delivery_process(response.json()["delivery_id"])
    return WebhookDelivery.objects.get(pk=response.json()["delivery_id"])


def webhook_prices():
    return model("prices.AssetPrice").objects.filter(source__startswith="webhook:")


def pushed(symbol: str) -> list[Decimal]:
    return list(
        model("prices.AssetPrice")
        .objects.filter(token__symbol=symbol, source="webhook:oracle")
        .order_by("observed_at")
        .values_list("price_usd", flat=True)
    )


def test_a_sane_price_is_stored_and_becomes_the_current_price():
    stored_price("ETH", "2000")
    stored_price("USDC", "1.0002")
    delivery = push(point("eth", "2100.123456789012345678"), point("USDC", 1))
    assert delivery.status == "processed"
    assert delivery.result.splitlines()[0] == "2 price(s) stored, 0 not; 0 alert(s) fired."
    assert pushed("ETH") == [Decimal("2100.123456789012345678")]  # every digit kept
    assert pushed("USDC") == [Decimal(1)]
    current = APIClient().get("/api/prices/current", {"symbols": "ETH,USDC"}).json()["prices"]
    assert (current["ETH"]["usd"], current["ETH"]["source"], current["ETH"]["stale"]) == (
        2100.12345679,  # rounded at the API's edge
        "webhook:oracle",
        False,
    )
    assert (current["USDC"]["usd"], current["USDC"]["source"]) == (1, "webhook:oracle")


def test_a_stored_price_fires_the_alerts_it_crosses(alice, api_client_for):
    from apps.notifications.models import Notification

    stored_price("ETH", "2000")
    client = api_client_for(alice)
    created = client.post("/api/notifications/price-alerts", {"symbol": "ETH", "direction": "above", "price": "2050"})
    assert created.status_code == 201, created.content
    delivery = push(point("ETH", "2100", at=timezone.now()))
    assert "1 alert(s) fired" in delivery.result
    alert = client.get(f"/api/notifications/price-alerts/{created.json()['id']}").json()
    assert alert["status"] == "triggered"
    assert (alert["triggered_price"]["price"], alert["triggered_price"]["source"]) == ("2100.00", "webhook:oracle")
    assert Notification.objects.filter(user=alice, kind="price_alert").count() == 1


@pytest.mark.parametrize(
    ("symbol", "price", "at", "reason"),
    [
        ("ETH", "9000", None, "350.00% away from the latest stored price"),
        ("ETH", "0", None, "is not positive"),
        ("ETH", "-5", None, "is not positive"),
        ("ETH", "1" + "0" * 20, None, "out of range"),
        ("ETH", "2000.0000000000000000001", None, "more than 18 decimals"),
        ("ETH", "2000", timedelta(hours=-2), "stale"),
        ("ETH", "2000", timedelta(minutes=5), "is in the future"),
        ("NOPE", "1", None, "unknown or inactive token"),
    ],
)
def test_an_insane_price_is_refused_and_the_delivery_still_accepted(symbol, price, at, reason):
    stored_price("ETH", "2000")
    moment = None if at is None else timezone.now() + at
    delivery = push(point(symbol, price, at=moment))
    assert delivery.status == "processed"
    assert delivery.result.splitlines()[0] == "0 price(s) stored, 1 not; 0 alert(s) fired."
    assert reason in delivery.result.splitlines()[1]
    assert delivery.result.splitlines()[1].startswith(f"{symbol}: refused, ")
    assert not webhook_prices().exists()


def test_a_move_of_exactly_the_allowed_deviation_is_accepted():
    stored_price("ETH", "2000")
    push(point("ETH", "1800"))  # 10 %, WEBHOOK_PRICE_MAX_DEVIATION_PERCENT's default
    assert pushed("ETH") == [Decimal(1800)]


def test_without_a_price_of_our_own_from_the_last_day_nothing_is_accepted():
    price_store("ETH", "2000", ago=timedelta(hours=25))  # too old to check against
    price_store("ETH", "2000", ago=timedelta(minutes=5), source="webhook:relay")  # another sender's: not ours
    delivery = push(point("ETH", "2001"), point("DAI", "1"))
    assert pushed("ETH") == []
    assert pushed("DAI") == []
    assert "ETH: refused, no price of our own from the last 24 hours to check it against" in delivery.result
    assert "DAI: refused, no price of our own from the last 24 hours to check it against" in delivery.result


def test_a_move_past_the_configured_deviation_is_refused(settings):
    settings.WEBHOOK_PRICE_MAX_DEVIATION_PERCENT = 10
    stored_price("ETH", "2000")
    delivery = push(point("ETH", "2201"), point("ETH", "2199", at=timezone.now() - timedelta(seconds=1)))
    assert pushed("ETH") == [Decimal(2199)]
    assert "ETH: refused, 10.05% away from the latest stored price" in delivery.result


def test_an_inactive_token_is_refused():
    tokens().filter(symbol="DAI").update(is_active=False)
    delivery = push(point("DAI", "1"))
    assert "DAI: refused, unknown or inactive token" in delivery.result
    assert pushed("DAI") == []


def test_the_token_staleness_limit_applies(settings):
    tokens().filter(symbol="USDT").update(price_stale_after_seconds=60)
    delivery = push(point("USDT", "1", at=timezone.now() - timedelta(seconds=90)))
    assert "USDT: refused, stale" in delivery.result


def test_the_same_observation_in_two_events_is_stored_once():
    stored_price("ETH", "2450")
    moment = timezone.now() - timedelta(seconds=3)
    push(point("ETH", "2500", at=moment))
    again = push(point("ETH", "2500", at=moment))
    assert pushed("ETH") == [Decimal(2500)]
    assert again.result.splitlines() == ["0 price(s) stored, 1 not; 0 alert(s) fired.", "ETH: already stored 2500 USD"]
    other = push(point("ETH", "2600", at=moment))  # the sender changes its mind about the same moment
    assert pushed("ETH") == [Decimal(2500)]
    assert other.result.splitlines()[1] == "ETH: refused, 2500 USD is already stored for this moment"


def test_a_sender_not_configured_for_prices_cannot_push_them():
    response = post_signed(
        PRICES, {"id": event_id(), "prices": [point("ETH", "2500")]}, source="watcher", secret=WATCHER_SECRET
    )
    assert_error_shape(response, 403, "topic_not_allowed")
    assert not webhook_prices().exists()


def test_a_sender_unknown_here_cannot_push_prices():
    response = post_signed(PRICES, {"id": event_id(), "prices": [point("ETH", "2500")]}, source="someone")
    assert_error_shape(response, 401, "unknown_source")
    assert not webhook_prices().exists()


def test_a_sender_that_lost_the_prices_topic_before_processing_stores_nothing(settings):
    response = post_signed(PRICES, {"id": event_id(), "prices": [point("ETH", "2500")]})
    settings.WEBHOOK_SOURCES = {**settings.WEBHOOK_SOURCES, "oracle": {"secret": "x", "topics": ["blockchain"]}}
    delivery_process(response.json()["delivery_id"])
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery_id"])
    assert (delivery.status, delivery.result) == ("ignored", "oracle is not configured to push prices; nothing stored.")
    assert pushed("ETH") == []


def test_a_sender_cannot_walk_a_price_away_in_steps_of_its_own_pushes():
    stored_price("ETH", "2000")  # read by us from a real source
    push(point("ETH", "2190", at=timezone.now() - timedelta(seconds=30)))  # 9.5 %: accepted
    delivery = push(point("ETH", "2400", at=timezone.now() - timedelta(seconds=5)))  # 9.6 % from 2190, 20 % from 2000
    assert pushed("ETH") == [Decimal(2190)]
    assert "ETH: refused, 20.00% away from the latest stored price 2000" in delivery.result
