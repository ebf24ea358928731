"""GET /api/transactions/{hash}/status and GET /api/transactions: only the caller's, with the frontend's fields."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account
from rest_framework.test import APIClient

from apps.transactions import services
from apps.transactions.models import ChainTransaction
from engipay.api.errors import ChainUnavailable
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db


def test_status_of_a_pending_transaction(chain, party):
    alice = party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    body = alice.status(sent["tx_hash"]).json()
    assert body["tx_hash"] == sent["tx_hash"]
    assert (body["status"], body["confirmations"], body["block_number"], body["finalized"]) == (
        "pending",
        0,
        None,
        False,
    )
    assert body["total_fee"] is None
    assert body["timestamp"].endswith("Z")


def test_status_of_another_users_transaction_is_not_found(chain, party):
    alice, bob = party(), party()
    sent = alice.send(to=Account.create().address, amount="0.1")
    assert_error_shape(bob.status(sent["tx_hash"]), 404, "not_found")
    assert_error_shape(alice.status("0x" + "00" * 32), 404, "not_found")
    assert_error_shape(APIClient().get(f"/api/transactions/{sent['tx_hash']}/status"), 401)


def test_list_shows_only_my_transactions_with_the_frontends_fields(chain, party, mine, deploy_token):
    alice, bob, to = party(), party(), Account.create().address
    deploy_token("TUSD", 6, {alice.address: 10**7})
    eth = alice.send(to=to, amount="0.1")
    tusd = alice.send(to=to, amount="2.5", asset="TUSD")
    bob.send(to=to, amount="0.3")
    mine(1)
    services.transaction_refresh_from_chain(transaction_id=eth["transaction_id"])

    body = alice.client.get("/api/transactions").json()
    assert body["total_count"] == 2
    assert [t["id"] for t in body["transactions"]] == [tusd["transaction_id"], eth["transaction_id"]]
    item = body["transactions"][0]
    assert set(item) >= {
        "id", "type", "description", "amount", "asset", "value_usd", "status",
        "timestamp", "tx_hash", "network", "to_address", "from_address",
    }  # fmt: skip
    assert (item["type"], item["amount"], item["asset"], item["status"], item["network"]) == (
        "send",
        "2.5",
        "TUSD",
        "pending",
        "local",
    )
    assert (item["to_address"], item["from_address"], item["value_usd"]) == (to, alice.address, None)
    assert "2.5 TUSD" in item["description"]

    def ids(query: str) -> list[str]:
        response = alice.client.get(f"/api/transactions?{query}")
        assert response.status_code == 200, response.content
        return [t["id"] for t in response.json()["transactions"]]

    assert ids("asset=eth") == [eth["transaction_id"]]
    assert ids("status=confirmed") == ids("status=completed") == [eth["transaction_id"]]
    assert ids("status=pending") == [tusd["transaction_id"]]
    assert ids("network=local&type=send") == [tusd["transaction_id"], eth["transaction_id"]]
    assert ids("network=elsewhere") == []
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"start_date={future}") == []
    assert ids("limit=1&offset=1") == [eth["transaction_id"]]


@pytest.mark.parametrize("query", ["status=nope", "type=swapz", "start_date=yesterday", "limit=abc"])
def test_list_rejects_bad_filters(chain, party, query):
    response = party().client.get(f"/api/transactions?{query}")
    if query.startswith("limit"):
        assert response.status_code == 200  # DRF's paginator falls back to the default limit
    else:
        assert_error_shape(response, 400, "invalid_filter")


def test_a_node_outage_is_503_within_seconds_and_tracking_resumes_after(settings, rpc_recorder, party, anvil_w3):
    from .conftest import native_token

    native_token()
    settings.CHAINS = {"local": {**settings.CHAINS["local"], "confirmations": 2}}
    alice, to = party(), Account.create().address
    sent = alice.send(to=to, amount="0.1")
    signed = alice.sign(alice.prepare(asset="ETH", to_address=to, amount="0.2").json()["transaction"])

    rpc_recorder.down = True
    started = time.monotonic()
    assert_error_shape(alice.prepare(asset="ETH", to_address=to, amount="0.1"), 503, "chain_unavailable")
    assert_error_shape(
        alice.broadcast(asset="ETH", to_address=to, amount="0.2", signed_transaction=signed), 503, "chain_unavailable"
    )
    assert time.monotonic() - started < 5
    with pytest.raises(ChainUnavailable):
        services.transaction_refresh_from_chain(transaction_id=sent["transaction_id"])
    assert services.transactions_refresh_open() == 0  # the down chain is skipped, not an error
    anvil_w3.provider.make_request("anvil_mine", ["0x1"])
    assert alice.status(sent["tx_hash"]).json()["status"] == "pending"  # stored state still served

    rpc_recorder.down = False
    assert services.transactions_refresh_open() == 1
    assert ChainTransaction.objects.get(pk=sent["transaction_id"]).status == "confirmed"
    assert alice.broadcast(asset="ETH", to_address=to, amount="0.2", signed_transaction=signed).status_code == 201


def test_value_usd_uses_the_price_known_at_the_time_of_the_transaction(chain, party, deploy_token):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from apps.chains.models import Token
    from apps.prices.tests.factories import AssetPriceFactory

    alice, to = party(), Account.create().address
    deploy_token("TEUR", 6, {alice.address: 10**7})
    token = Token.objects.get(symbol="TEUR")
    AssetPriceFactory(token=token, price_usd=Decimal("1.0825"), observed_at=timezone.now() - timedelta(minutes=5))
    alice.send(to=to, amount="2.5", asset="TEUR")
    AssetPriceFactory(token=token, price_usd=Decimal("9"), observed_at=timezone.now() + timedelta(minutes=5))
    [item] = alice.client.get("/api/transactions").json()["transactions"]
    assert item["value_usd"] == 2.71  # 2.5 x 1.0825 = 2.70625, the price of the time, not the later one
