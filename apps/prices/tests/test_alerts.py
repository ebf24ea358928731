"""Price alerts (`/api/notifications/price-alerts`): evaluated by the real ingestion, one notification per crossing."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.notifications.models import Notification
from apps.prices.alerts import MAX_ARMED_ALERTS, price_alerts_evaluate
from apps.prices.models import AssetPrice, PriceAlert
from apps.prices.services import prices_ingest
from apps.prices.tests.coingecko_fake import Coin
from apps.prices.tests.conftest import feed_answer_set
from apps.prices.tests.factories import AssetPriceFactory
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

URL = "/api/notifications/price-alerts"


def _alerts_of(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind="price_alert").order_by("created_at"))


@pytest.fixture
def priced(make_token):
    """``make(symbol, price)``: an active token with one stored price observed a minute ago."""

    def make(symbol: str, price: str = "2400", **kwargs):
        token = make_token(symbol, **kwargs)
        AssetPriceFactory(token=token, price_usd=Decimal(price), observed_at=timezone.now() - timedelta(minutes=1))
        return token

    return make


@pytest.fixture
def create_alert(api_client_for):
    def create(user, symbol: str, direction: str = "above", price: str = "2500", **extra) -> dict:
        body = {"symbol": symbol, "direction": direction, "price": price, **extra}
        response = api_client_for(user).post(URL, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return create


@pytest.fixture
def gecko(settings, coingecko, make_token):
    """``tick(symbol, price, seconds_from_now)``: the local CoinGecko publishes a price, then one ingestion runs."""
    settings.PRICE_SOURCES = ["coingecko"]

    def tick(symbol: str, price: str, at: int = 1):
        coin_id = f"{symbol.lower()}-coin"
        make_token(symbol, coingecko_id=coin_id)
        coingecko.coins[coin_id] = Coin(usd=Decimal(price), last_updated_at=int(time.time()) + at)
        return prices_ingest(symbols=[symbol])

    return tick


# --- evaluation through the real ingestion ---------------------------------------------------------------------


def test_a_crossing_on_chain_fires_exactly_one_notification_while_the_price_stays_above(
    settings, local_chain, anvil_w3, make_token, make_feed, alice, api_client_for, create_alert
):
    settings.PRICE_SOURCES = ["chainlink"]
    token = make_token("PAFEED")
    feed = make_feed(token, Decimal("2400"), updated_at=int(time.time()) - 30)
    assert prices_ingest(symbols=["PAFEED"]).stored == {"PAFEED": "chainlink:local"}
    alert = create_alert(alice, "pafeed", "above", "2500.00", note="take profit")
    assert alert["current_price"]["price"] == "2400.00"

    def move(price: int, seconds_from_now: int):
        feed_answer_set(anvil_w3, feed, price * 10**8, int(time.time()) + seconds_from_now)
        return prices_ingest(symbols=["PAFEED"])

    assert move(2450, 1).stored == {"PAFEED": "chainlink:local"}
    assert _alerts_of(alice) == []
    move(2510, 2)
    move(2600, 3)
    assert prices_ingest(symbols=["PAFEED"]).unchanged == {"PAFEED": "chainlink:local"}
    move(2700, 4)

    [notification] = _alerts_of(alice)
    fired_with = AssetPrice.objects.get(token=token, price_usd=Decimal("2510"))
    assert notification.title == "PAFEED rose to 2510.00 USD"
    assert notification.data == {
        "alert_id": alert["id"],
        "symbol": "PAFEED",
        "direction": "above",
        "threshold": "2500.00",
        "price": "2510.00",
        "observed_at": fired_with.observed_at.isoformat().replace("+00:00", "Z"),
        "source": "chainlink:local",
    }
    stored = PriceAlert.objects.get(pk=alert["id"])
    assert (stored.status, stored.triggered_price_id, stored.notification_id) == (
        "triggered",
        fired_with.pk,
        notification.id,
    )
    body = api_client_for(alice).get(f"{URL}/{alert['id']}").json()
    assert body["status"] == "triggered"
    assert body["triggered_price"] == {
        "price": "2510.00",
        "observed_at": fired_with.observed_at.isoformat().replace("+00:00", "Z"),
        "source": "chainlink:local",
    }
    assert body["current_price"]["price"] == "2700.00"
    assert body["current_price"]["stale"] is False
    assert body["note"] == "take profit"


def test_a_price_observed_before_arming_does_not_fire_even_if_stored_after(gecko, alice, create_alert):
    gecko("PAOLD", "2400", at=-120)
    alert = create_alert(alice, "PAOLD", "above", "2500")
    result = gecko("PAOLD", "2600", at=-60)  # a new observation, but from before the alert was armed
    assert result.stored == {"PAOLD": "coingecko"}
    assert _alerts_of(alice) == []
    assert PriceAlert.objects.get(pk=alert["id"]).status == "armed"
    gecko("PAOLD", "2600", at=1)
    assert len(_alerts_of(alice)) == 1


def test_a_below_alert_fires_at_or_below_its_price(gecko, alice, create_alert):
    gecko("PABELOW", "2400", at=-60)
    alert = create_alert(alice, "PABELOW", "below", "2000")
    gecko("PABELOW", "2000.01", at=1)
    assert _alerts_of(alice) == []
    gecko("PABELOW", "2000", at=2)  # exactly the threshold counts
    gecko("PABELOW", "1900", at=3)
    [notification] = _alerts_of(alice)
    assert notification.title == "PABELOW fell to 2000.00 USD"
    assert notification.data["direction"] == "below"
    assert PriceAlert.objects.get(pk=alert["id"]).status == "triggered"


def test_an_alert_on_the_far_side_already_fires_with_the_next_price(gecko, alice, create_alert):
    gecko("PAFAR", "3000", at=-60)
    create_alert(alice, "PAFAR", "above", "2500")
    gecko("PAFAR", "3000.5", at=1)
    assert len(_alerts_of(alice)) == 1


def test_a_rearmed_alert_fires_again_at_the_next_crossing(gecko, alice, api_client_for, create_alert):
    client = api_client_for(alice)
    gecko("PAREARM", "2400", at=-60)
    alert = create_alert(alice, "PAREARM", "above", "2500")
    gecko("PAREARM", "2600", at=1)
    assert len(_alerts_of(alice)) == 1

    response = client.post(f"{URL}/{alert['id']}/rearm", {}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["triggered_at"], body["triggered_price"]) == ("armed", None, None)
    assert body["armed_at"] > alert["armed_at"]
    gecko("PAREARM", "2600", at=1)  # the observation that fired it before is not new: nothing
    assert len(_alerts_of(alice)) == 1
    gecko("PAREARM", "2650", at=2)
    assert len(_alerts_of(alice)) == 2
    assert PriceAlert.objects.get(pk=alert["id"]).status == "triggered"


def test_rearm_can_change_price_and_direction(gecko, alice, api_client_for, create_alert):
    gecko("PAFLIP", "2400", at=-60)
    alert = create_alert(alice, "PAFLIP", "above", "2500")
    gecko("PAFLIP", "2600", at=1)

    response = api_client_for(alice).post(
        f"{URL}/{alert['id']}/rearm", {"direction": "below", "price": "2550.5"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["direction"], response.json()["price"]) == ("below", "2550.50")
    gecko("PAFLIP", "2560", at=2)
    assert len(_alerts_of(alice)) == 1
    gecko("PAFLIP", "2550.5", at=3)
    assert [n.data["threshold"] for n in _alerts_of(alice)] == ["2500.00", "2550.50"]


def test_rearming_an_armed_alert_is_a_conflict(priced, alice, api_client_for, create_alert):
    priced("PAARMED")
    alert = create_alert(alice, "PAARMED")
    response = api_client_for(alice).post(f"{URL}/{alert['id']}/rearm", {}, format="json")
    assert_error_shape(response, 409, "already_armed")


def test_every_users_alert_fires_once_and_only_the_crossed_ones(gecko, alice, bob, create_alert):
    gecko("PAMANY", "2400", at=-60)
    high = create_alert(alice, "PAMANY", "above", "2500")
    create_alert(alice, "PAMANY", "above", "3000")
    create_alert(bob, "PAMANY", "above", "2450")
    create_alert(bob, "PAMANY", "below", "2000")
    gecko("PAMANY", "2600", at=1)
    assert [n.data["alert_id"] for n in _alerts_of(alice)] == [high["id"]]
    assert [n.data["threshold"] for n in _alerts_of(bob)] == ["2450.00"]


def test_evaluating_the_same_rows_again_fires_nothing_more(priced, alice, create_alert):
    token = priced("PATWICE")
    create_alert(alice, "PATWICE", "above", "2500")
    row = AssetPriceFactory(token=token, price_usd=Decimal("2600"), observed_at=timezone.now() + timedelta(seconds=1))
    assert price_alerts_evaluate(rows=[row]) == 1
    assert price_alerts_evaluate(rows=[row]) == 0  # e.g. the price webhook delivering what ingestion stored
    assert len(_alerts_of(alice)) == 1


def test_the_earliest_crossing_row_of_a_batch_fires_it(priced, alice, create_alert):
    token = priced("PABATCH")
    alert = create_alert(alice, "PABATCH", "above", "2500")
    soon = timezone.now() + timedelta(seconds=1)
    rows = [
        AssetPriceFactory(token=token, price_usd=Decimal(price), observed_at=soon + timedelta(seconds=offset))
        for price, offset in [("2700", 3), ("2400", 1), ("2550", 2)]
    ]
    assert price_alerts_evaluate(rows=rows) == 1
    assert PriceAlert.objects.get(pk=alert["id"]).triggered_price_id == rows[2].pk


def test_evaluation_reads_the_candidates_of_a_batch_in_one_query(
    priced, alice, create_alert, django_assert_num_queries
):
    first, second = priced("PAQ1"), priced("PAQ2")
    for price in ["2500", "2600", "2700", "2800"]:
        create_alert(alice, "PAQ1", "above", price)
        create_alert(alice, "PAQ2", "below", price)
    later = timezone.now() + timedelta(seconds=1)
    rows = [
        AssetPriceFactory(token=first, price_usd=Decimal("2450"), observed_at=later),
        AssetPriceFactory(token=second, price_usd=Decimal("2900"), observed_at=later),
    ]
    with django_assert_num_queries(1):  # eight armed alerts, none crossed
        assert price_alerts_evaluate(rows=rows) == 0


# --- API -------------------------------------------------------------------------------------------------------


def test_create_returns_the_alert_with_the_current_price(priced, alice, api_client_for):
    priced("PANEW", "2431.17")
    body = {"symbol": "panew", "direction": "above", "price": "2500.00", "note": "Take profit"}

    response = api_client_for(alice).post(URL, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    stored = PriceAlert.objects.get(pk=data["id"])
    assert (stored.user, stored.token.symbol, stored.direction, stored.price, stored.status) == (
        alice,
        "PANEW",
        "above",
        Decimal("2500"),
        "armed",
    )
    assert data == {
        "id": str(stored.pk),
        "symbol": "PANEW",
        "direction": "above",
        "price": "2500.00",
        "status": "armed",
        "armed_at": data["armed_at"],
        "triggered_at": None,
        "triggered_price": None,
        "current_price": {
            "price": "2431.17",
            "observed_at": data["current_price"]["observed_at"],
            "source": "coingecko",
            "stale": False,
        },
        "note": "Take profit",
        "created_at": data["created_at"],
    }
    assert data["armed_at"].endswith("Z")


def test_a_threshold_keeps_every_digit_up_to_the_largest_allowed(priced, alice, create_alert):
    priced("PABIG")
    big = "99999999999999999999.999999999999999999"
    assert create_alert(alice, "PABIG", price=big)["price"] == big
    assert create_alert(alice, "PABIG", price="0.000000000000000001")["price"] == "0.000000000000000001"
    assert create_alert(alice, "PABIG", price=2500)["price"] == "2500.00"  # a JSON integer is exact
    assert sorted(PriceAlert.objects.values_list("price", flat=True)) == [
        Decimal("0.000000000000000001"),
        Decimal(2500),
        Decimal(big),
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price": 2500.5}, "invalid_input"),  # a JSON float
        ({"price": "-1"}, "invalid_input"),
        ({"price": "0"}, "invalid_input"),
        ({"price": "abc"}, "invalid_input"),
        ({"price": "NaN"}, "invalid_input"),
        ({"price": "1e3"}, "invalid_input"),
        ({"price": True}, "invalid_input"),
        ({"price": "0.0000000000000000001"}, "too_precise"),
        ({"price": "100000000000000000000"}, "price_too_large"),
        ({"direction": "sideways"}, "invalid_input"),
        ({"direction": None}, "invalid_input"),
        ({"symbol": "NOPE"}, "unknown_symbol"),
        ({"symbol": "PAINACTIVE"}, "unknown_symbol"),
        ({"symbol": "PANOPRICE"}, "no_price_yet"),
        ({"note": "x" * 141}, "invalid_input"),
    ],
)
def test_create_rejects_bad_input(priced, make_token, alice, api_client_for, change, code):
    priced("PAVALID")
    inactive = priced("PAINACTIVE")
    inactive.is_active = False
    inactive.save()
    make_token("PANOPRICE")
    body = {"symbol": "PAVALID", "direction": "above", "price": "2500", **change}

    response = api_client_for(alice).post(URL, body, format="json")

    assert_error_shape(response, 400, code)
    assert not PriceAlert.objects.exists()


def test_create_without_the_fields_lists_each_missing_one(alice, api_client_for):
    response = api_client_for(alice).post(URL, {}, format="json")
    error = assert_error_shape(response, 400, "invalid_input")
    assert set(error["details"]) == {"symbol", "direction", "price"}


def test_an_unknown_symbol_lists_the_known_ones(priced, alice, api_client_for):
    priced("PAKNOWN")
    response = api_client_for(alice).post(URL, {"symbol": "doge", "direction": "above", "price": "1"}, format="json")
    error = assert_error_shape(response, 400, "unknown_symbol")
    assert error["details"]["unknown"] == ["DOGE"]
    assert "PAKNOWN" in error["details"]["known"]


def test_armed_alerts_are_capped_per_user_but_triggered_ones_do_not_count(priced, alice, bob, api_client_for):
    token = priced("PACAP")
    PriceAlert.objects.bulk_create(
        PriceAlert(user=alice, token=token, direction="above", price=Decimal(3000 + i), armed_at=timezone.now())
        for i in range(MAX_ARMED_ALERTS)
    )
    body = {"symbol": "PACAP", "direction": "above", "price": "2500"}

    refused = api_client_for(alice).post(URL, body, format="json")

    error = assert_error_shape(refused, 409, "too_many_alerts")
    assert error["details"] == {"max_armed": MAX_ARMED_ALERTS, "armed": MAX_ARMED_ALERTS}
    assert api_client_for(bob).post(URL, body, format="json").status_code == 201  # the cap is per user
    one = PriceAlert.objects.filter(user=alice).first()
    one.status = "triggered"
    one.save()
    assert api_client_for(alice).post(URL, body, format="json").status_code == 201
    rearm = api_client_for(alice).post(f"{URL}/{one.pk}/rearm", {}, format="json")
    assert_error_shape(rearm, 409, "too_many_alerts")  # re-arming counts too


@pytest.mark.parametrize(
    ("change", "code"),
    [({"price": 1.5}, "invalid_input"), ({"price": "0"}, "invalid_input"), ({"direction": "up"}, "invalid_input")],
)
def test_rearm_rejects_bad_input(gecko, alice, api_client_for, create_alert, change, code):
    gecko("PABADRE", "2400", at=-60)
    alert = create_alert(alice, "PABADRE")
    gecko("PABADRE", "2600", at=1)
    response = api_client_for(alice).post(f"{URL}/{alert['id']}/rearm", change, format="json")
    assert_error_shape(response, 400, code)
    assert PriceAlert.objects.get(pk=alert["id"]).status == "triggered"


def test_another_users_alert_is_not_found(priced, alice, bob, api_client_for, create_alert):
    priced("PAMINE")
    alert = create_alert(alice, "PAMINE")
    client = api_client_for(bob)
    assert_error_shape(client.get(f"{URL}/{alert['id']}"), 404, "not_found")
    assert_error_shape(client.delete(f"{URL}/{alert['id']}"), 404, "not_found")
    assert_error_shape(client.post(f"{URL}/{alert['id']}/rearm", {}, format="json"), 404, "not_found")
    assert client.get(URL).json()["alerts"] == []
    assert PriceAlert.objects.filter(pk=alert["id"]).exists()


def test_alerts_need_a_signed_in_user(api_client):
    assert_error_shape(api_client.get(URL), 401, "not_authenticated")
    body = {"symbol": "ETH", "direction": "above", "price": "2500"}
    assert_error_shape(api_client.post(URL, body, format="json"), 401, "not_authenticated")


def test_delete_removes_the_alert(priced, alice, api_client_for, create_alert):
    priced("PADEL")
    alert = create_alert(alice, "PADEL")
    client = api_client_for(alice)
    response = client.delete(f"{URL}/{alert['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert not PriceAlert.objects.exists()
    assert_error_shape(client.delete(f"{URL}/{alert['id']}"), 404, "not_found")


def test_the_list_is_mine_newest_first_filtered_and_paginated(gecko, alice, bob, api_client_for, create_alert):
    gecko("PALISTA", "2400", at=-60)
    gecko("PALISTB", "10", at=-60)
    older = create_alert(alice, "PALISTA", "above", "2500")
    middle = create_alert(alice, "PALISTB", "below", "5")
    newest = create_alert(alice, "PALISTA", "below", "2000")
    create_alert(bob, "PALISTA")
    gecko("PALISTA", "2600", at=1)  # triggers `older` only
    client = api_client_for(alice)

    def ids(query: str = "") -> list[str]:
        response = client.get(URL + query)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["alerts"]]

    assert ids() == [newest["id"], middle["id"], older["id"]]
    assert ids("?status=triggered") == [older["id"]]
    assert ids("?status=armed") == [newest["id"], middle["id"]]
    assert ids("?symbol=palista") == [newest["id"], older["id"]]
    assert ids("?symbol=PALISTB&status=armed") == [middle["id"]]
    assert ids("?symbol=UNKNOWN") == []
    page = client.get(URL + "?limit=2&offset=1").json()
    assert [item["id"] for item in page["alerts"]] == [middle["id"], older["id"]]
    assert (page["total_count"], page["limit"], page["offset"], page["has_more"]) == (3, 2, 1, False)
    assert client.get(URL + "?limit=1").json()["has_more"] is True
    listed = client.get(URL + "?status=triggered").json()["alerts"][0]
    assert listed["triggered_price"]["price"] == "2600.00"
    assert listed["current_price"]["price"] == "2600.00"
    assert_error_shape(client.get(URL + "?status=sleeping"), 400, "invalid_filter")


def test_the_current_price_is_flagged_stale_or_null_never_invented(make_token, alice, api_client_for, create_alert):
    token = make_token("PASTALE", stale_after=600)
    AssetPriceFactory(token=token, price_usd=Decimal("5"), observed_at=timezone.now() - timedelta(minutes=11))
    alert = create_alert(alice, "PASTALE", "above", "6")
    assert alert["current_price"]["stale"] is True
    token.is_active = False  # prices_current serves active assets only
    token.save()
    assert api_client_for(alice).get(f"{URL}/{alert['id']}").json()["current_price"] is None


def test_writes_are_throttled_per_user_and_reads_are_not(priced, alice, bob, api_client_for, throttle_rates):
    throttle_rates(price_alert_write="2/min")
    priced("PATHROTTLE")
    client = api_client_for(alice)
    body = {"symbol": "PATHROTTLE", "direction": "above", "price": "2500"}
    assert client.post(URL, body, format="json").status_code == 201
    assert client.post(URL, body, format="json").status_code == 201
    refused = client.post(URL, body, format="json")
    assert_error_shape(refused, 429, "throttled")
    assert "Retry-After" in refused
    assert client.get(URL).status_code == 200
    assert api_client_for(bob).post(URL, body, format="json").status_code == 201


def test_the_notification_is_listed_by_the_notifications_api(gecko, alice, api_client_for, create_alert):
    gecko("PANOTE", "2400", at=-60)
    alert = create_alert(alice, "PANOTE", "above", "2500")
    gecko("PANOTE", "2600", at=1)
    response = api_client_for(alice).get("/api/notifications?type=price_alert")
    assert response.status_code == 200, response.content
    [item] = response.json()["notifications"]
    assert (item["type"], item["data"]["alert_id"], item["data"]["price"]) == ("price_alert", alert["id"], "2600.00")


def test_the_alert_endpoints_are_in_the_schema_with_examples(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    collection, item = paths["/api/notifications/price-alerts"], paths["/api/notifications/price-alerts/{alert_id}"]
    rearm = paths["/api/notifications/price-alerts/{alert_id}/rearm"]
    operations = [collection["get"], collection["post"], item["get"], item["delete"], rearm["post"]]
    assert all(op["tags"] == ["notifications"] for op in operations)
    create = collection["post"]
    assert "examples" in create["requestBody"]["content"]["application/json"]
    assert {"201", "400", "409", "429"} <= set(create["responses"])
    assert "examples" in create["responses"]["201"]["content"]["application/json"]
    output = schema["components"]["schemas"]["PriceAlertOutput"]["properties"]
    assert output["price"]["type"] == "string"
    assert output["current_price"]["nullable"] is True or "oneOf" in output["current_price"]
